// Purchase requests, the demo's own business objects: the host application's types in the API
// (`purchaseRequests`, `createPurchaseRequest`) and the engine's `availableWorkflows` and
// `attachWorkflow`, so the dashboard creates a request and starts its approval with nothing else.
import { describeError, describeMutationError } from './api';
import type { App } from './app';
import { h, render } from './dom';
import { graphql } from './graphql';

const MODEL = 'demo.purchaserequest';

export const PurchaseRequestsQuery = graphql(`
  query PurchaseRequests {
    purchaseRequests(first: 5) {
      edges { node { id title amount workflowStatus createdAt } }
    }
  }
`);

export const CreatePurchaseRequestMutation = graphql(`
  mutation CreatePurchaseRequest($input: CreatePurchaseRequestInput!) {
    createPurchaseRequest(input: $input) {
      purchaseRequest { id title amount }
      error { code message field }
    }
  }
`);

export const AttachChoicesQuery = graphql(`
  query AttachChoices($model: String!, $objectId: ID!) {
    availableWorkflows(model: $model, objectId: $objectId) { id nameEn }
    workflowModels { model defaultWorkflow { id } }
  }
`);

export const AttachWorkflowMutation = graphql(`
  mutation AttachWorkflow($input: AttachWorkflowInput!) {
    attachWorkflow(input: $input) {
      attachment { id status target { id display } }
      error { code message field }
    }
  }
`);

export const ColleaguesQuery = graphql(`
  query Colleagues($search: String, $first: Int!) {
    colleagues(search: $search, first: $first) { id displayName }
  }
`);

/**
 * A card to create a purchase request, then attach one of the workflows the server offers for
 * it (its default preselected) and open the running workflow.
 */
export function newRequestCard(app: App, isActive: () => boolean): HTMLElement {
  const card = h('section', { class: 'card', 'data-testid': 'new-request' });
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'new-request-error' });
  const title = h('input', { name: 'title', placeholder: 'What do you need?', 'data-testid': 'request-title', required: true });
  const amount = h('input', { name: 'amount', placeholder: 'Amount, e.g. 2400.00', inputmode: 'decimal', 'data-testid': 'request-amount', class: 'narrow' });
  const recent = h('ul', { class: 'muted small', 'data-testid': 'recent-requests' });

  const showRecent = () =>
    app.api
      .query(PurchaseRequestsQuery, {})
      .then((data) => {
        if (!isActive()) return;
        const requests = (data.purchaseRequests?.edges ?? []).map((edge) => edge.node);
        render(recent, requests.map((request) => h('li', null, `${request.title} · ${request.amount} · ${request.workflowStatus}`)));
      })
      .catch((failure) => isActive() && app.toast(describeError(failure), 'error'));

  const chooseWorkflow = async (request: { id: string; title: string }) => {
    const choices = await app.api.query(AttachChoicesQuery, { model: MODEL, objectId: request.id });
    const preselected = choices.workflowModels.find((item) => item.model === MODEL)?.defaultWorkflow?.id;
    const workflow = h(
      'select',
      { 'data-testid': 'attach-workflow', 'aria-label': 'Workflow to attach' },
      choices.availableWorkflows.map((item) => h('option', { value: item.id, selected: item.id === preselected }, item.nameEn)),
    );
    const attach = async () => {
      error.textContent = '';
      try {
        const result = await app.api.mutate(AttachWorkflowMutation, {
          input: { model: MODEL, objectId: request.id, workflowId: workflow.value },
        });
        const payload = result.attachWorkflow;
        if (payload?.error) return void (error.textContent = describeMutationError(payload.error));
        if (payload?.attachment) window.location.hash = `#/attachments/${payload.attachment.id}`;
      } catch (failure) {
        error.textContent = describeError(failure);
      }
    };
    render(
      card,
      h('h2', null, `Start the approval of “${request.title}”`),
      error,
      choices.availableWorkflows.length
        ? h(
            'div',
            { class: 'buttons' },
            workflow,
            h('button', { type: 'button', class: 'primary', 'data-testid': 'attach', onClick: () => void attach() }, 'Attach and start'),
          )
        : h('p', { class: 'muted' }, 'No workflow may run on purchase requests.'),
    );
  };

  const create = async (event: Event) => {
    event.preventDefault();
    error.textContent = '';
    try {
      const result = await app.api.mutate(CreatePurchaseRequestMutation, {
        input: { title: title.value, amount: amount.value.trim() },
      });
      const payload = result.createPurchaseRequest;
      if (payload?.error) return void (error.textContent = describeMutationError(payload.error));
      if (payload?.purchaseRequest) {
        app.toast(`Purchase request “${payload.purchaseRequest.title}” created.`);
        await chooseWorkflow(payload.purchaseRequest);
      }
    } catch (failure) {
      error.textContent = describeError(failure);
    }
  };

  render(
    card,
    h('h2', null, 'New purchase request'),
    error,
    h(
      'form',
      { class: 'buttons', onSubmit: (event: Event) => void create(event) },
      title,
      amount,
      h('button', { type: 'submit', class: 'primary', 'data-testid': 'create-request' }, 'Create'),
    ),
    h('h3', { class: 'small' }, 'Recent requests'),
    recent,
  );
  void showRecent();
  return card;
}
