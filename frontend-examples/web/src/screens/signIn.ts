import { h, render } from '../dom';

/** Sign in with an API token (kept in localStorage, sent as `Authorization: Bearer …`). */
export function signInScreen(
  root: HTMLElement,
  signIn: (token: string) => Promise<void>,
  message = '',
): () => void {
  const input = h('input', {
    id: 'token',
    type: 'password',
    autocomplete: 'off',
    placeholder: 'Paste your API token',
    'aria-label': 'API token',
  });
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'sign-in-error' }, message);
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h(
    'form',
    {
      class: 'card sign-in',
      onSubmit: async (event: Event) => {
        event.preventDefault();
        const token = input.value.trim();
        if (!token) {
          error.textContent = 'Enter a token first.';
          return;
        }
        button.disabled = true;
        error.textContent = '';
        try {
          await signIn(token);
        } catch (failure) {
          error.textContent = (failure as Error).message;
        } finally {
          button.disabled = false;
        }
      },
    },
    h('h1', null, 'WorkflowQL dashboard'),
    h('p', null, 'Sign in with an API token. The server prints one for a user with:'),
    h('pre', null, 'DEBUG=1 .venv/bin/python manage.py create_api_token acme-budget_manager1'),
    h('label', { for: 'token' }, 'API token'),
    input,
    button,
    error,
  );
  render(root, form);
  input.focus();
  return () => {};
}
