import { describeError, describeMutationError } from '../api';
import type { App, Screen } from '../app';
import { decideInBulk, MAX_BULK_ITEMS, type BulkKind, type BulkOutcome } from '../bulk';
import { formatTime, h, render } from '../dom';
import type { InboxItem } from '../inbox';
import { loading, progressBar, stageChip } from './common';

/** The outcome of the last bulk decision, kept while the user moves between screens. */
let lastOutcome: BulkOutcome | null = null;
/** Titles of the items of the last bulk decision, by attachment id (they leave the inbox). */
const titles = new Map<string, string>();

/** Due time of the current step: a red "Overdue" badge once it has passed. */
function dueCell(item: InboxItem): HTMLElement {
  if (!item.dueAt) return h('td', { 'data-testid': 'due' }, h('span', { class: 'muted' }, '—'));
  return h(
    'td',
    { 'data-testid': 'due' },
    item.isOverdue ? h('span', { class: 'pill overdue', 'data-testid': 'overdue' }, 'Overdue') : null,
    h('div', { class: item.isOverdue ? 'small overdue-text' : 'small' }, formatTime(item.dueAt)),
  );
}

function outcomePanel(outcome: BulkOutcome): HTMLElement {
  const verb = outcome.kind === 'approve' ? 'Approved' : 'Rejected';
  if (outcome.error) {
    return h(
      'div',
      { class: 'bulk-results', 'data-testid': 'bulk-results' },
      h('p', { class: 'error', role: 'alert', 'data-testid': 'bulk-error' }, describeMutationError(outcome.error)),
    );
  }
  const done = outcome.results.filter((result) => !result.error).length;
  return h(
    'div',
    { class: 'bulk-results', 'data-testid': 'bulk-results' },
    h('p', null, `${verb} ${done} of ${outcome.results.length}.`),
    h(
      'ul',
      null,
      outcome.results.map((result) =>
        h(
          'li',
          {
            'data-testid': 'bulk-result',
            'data-attachment-id': result.attachmentId,
            'data-ok': result.error ? 'false' : 'true',
            class: result.error ? 'failed' : 'ok',
          },
          h('strong', null, titles.get(result.attachmentId) ?? result.attachmentId),
          ': ',
          result.error
            ? describeMutationError(result.error)
            : `${verb.toLowerCase()}${result.attachment?.currentStage ? `, now in ${result.attachment.currentStage.nameEn}` : ''}`,
        ),
      ),
    ),
  );
}

async function decideSelected(app: App, kind: BulkKind, reason: string, redraw: () => void): Promise<void> {
  const { inbox } = app;
  const picked = inbox.items.filter((item) => inbox.selected.has(item.id)).slice(0, MAX_BULK_ITEMS);
  if (picked.length === 0) return;
  for (const item of picked) titles.set(item.id, item.target.display);
  try {
    lastOutcome = await decideInBulk(
      app.api,
      kind,
      picked.map((item) => ({ attachmentId: item.id, expectedStageId: item.currentStage?.id ?? null })),
      reason,
    );
  } catch (error) {
    app.toast(describeError(error), 'error');
    return;
  }
  for (const result of lastOutcome.results) if (!result.error) inbox.selected.delete(result.attachmentId);
  redraw();
  // The inbox also refreshes when the subscription reports the items leaving; this covers
  // a socket that is down.
  void inbox.refresh();
}

/** My pending approvals: re-drawn whenever the live inbox store changes. */
export const inboxScreen: Screen = (app, root) => {
  let reason = '';
  let busy = false;
  const draw = () => {
    const { inbox } = app;
    if (!inbox.loaded) return render(root, h('h1', null, 'My pending approvals'), loading());
    const count = inbox.selected.size;
    const run = (kind: BulkKind) => async () => {
      busy = true;
      draw();
      await decideSelected(app, kind, reason, draw);
      busy = false;
      draw();
    };
    const toggle = (id: string) => (event: Event) => {
      if ((event.target as HTMLInputElement).checked) inbox.selected.add(id);
      else inbox.selected.delete(id);
      draw();
    };
    const everything = inbox.items.length > 0 && inbox.items.every((item) => inbox.selected.has(item.id));
    render(
      root,
      h('h1', null, 'My pending approvals ', h('span', { class: 'muted' }, `(${inbox.totalCount})`)),
      h(
        'div',
        { class: 'bulk-bar', 'data-testid': 'bulk-bar' },
        h('span', { 'data-testid': 'selected-count' }, `${count} selected`),
        h(
          'button',
          { type: 'button', 'data-testid': 'approve-selected', disabled: count === 0 || busy, onClick: run('approve') },
          'Approve selected',
        ),
        h('input', {
          type: 'text',
          placeholder: 'Reason (to reject)',
          'aria-label': 'Reason to reject the selected items',
          'data-testid': 'bulk-reason',
          maxlength: 1000,
          value: reason,
          onInput: (event: Event) => {
            reason = (event.target as HTMLInputElement).value;
            const button = root.querySelector<HTMLButtonElement>('[data-testid=reject-selected]');
            if (button) button.disabled = count === 0 || busy || reason.trim() === '';
          },
        }),
        h(
          'button',
          {
            type: 'button',
            class: 'danger',
            'data-testid': 'reject-selected',
            disabled: count === 0 || busy || reason.trim() === '',
            onClick: run('reject'),
          },
          'Reject selected',
        ),
      ),
      lastOutcome ? outcomePanel(lastOutcome) : null,
      inbox.items.length === 0
        ? h('p', { class: 'empty', 'data-testid': 'inbox-empty' }, 'Nothing waits for you. New items appear here live.')
        : h(
            'table',
            { class: 'list', 'data-testid': 'inbox' },
            h(
              'thead',
              null,
              h(
                'tr',
                null,
                h(
                  'th',
                  null,
                  h('input', {
                    type: 'checkbox',
                    'aria-label': 'Select all',
                    'data-testid': 'select-all',
                    checked: everything,
                    onChange: (event: Event) => {
                      const on = (event.target as HTMLInputElement).checked;
                      for (const item of inbox.items) {
                        if (on) inbox.selected.add(item.id);
                        else inbox.selected.delete(item.id);
                      }
                      draw();
                    },
                  }),
                ),
                ...['Request', 'Workflow', 'Waiting in', 'Due', 'Progress', 'Started'].map((t) => h('th', null, t)),
              ),
            ),
            h(
              'tbody',
              null,
              inbox.items.map((item) =>
                h(
                  'tr',
                  {
                    'data-testid': 'inbox-row',
                    'data-attachment-id': item.id,
                    'data-overdue': item.isOverdue ? 'true' : 'false',
                    class: inbox.recentlyEntered.has(item.id) ? 'new' : undefined,
                  },
                  h(
                    'td',
                    null,
                    h('input', {
                      type: 'checkbox',
                      'aria-label': `Select ${item.target.display}`,
                      'data-testid': 'select-row',
                      checked: inbox.selected.has(item.id),
                      onChange: toggle(item.id),
                    }),
                  ),
                  h('td', null, h('a', { href: `#/attachments/${item.id}` }, item.target.display)),
                  h('td', null, item.workflow.nameEn),
                  h('td', null, stageChip(item.currentStage), h('div', { class: 'muted small' }, item.currentPipeline?.nameEn ?? '')),
                  dueCell(item),
                  h('td', null, progressBar(item.progress, true)),
                  h('td', null, item.startedBy?.displayName ?? '', h('div', { class: 'muted small' }, formatTime(item.createdAt))),
                ),
              ),
            ),
          ),
    );
  };
  draw();
  return app.inbox.listen(draw);
};
