import { describeError, describeMutationError } from '../api';
import type { App, Screen } from '../app';
import {
  ApproveStageMutation,
  AttachmentEventsSubscription,
  AttachmentQuery,
  CheckInStageMutation,
  DelegateStageMutation,
  EventFields,
  RejectStageMutation,
  RequestResubmissionMutation,
  VerifyStageMutation,
} from '../documents';
import { formatTime, h, humanize, render, type Child } from '../dom';
import type { ResultOf } from '../graphql';
import { ColleaguesQuery } from '../requests';
import { failure, loading, progressBar, stageChip, statusPill } from './common';

// Single-object root fields are nullable: an unknown id answers null (with its error).
type Attachment = NonNullable<ResultOf<typeof AttachmentQuery>['workflowAttachment']>;
type WorkflowEvent = ResultOf<typeof EventFields>;
type MutationError = { code: string; message: string; field?: string | null };

interface FormField {
  name: string;
  label: string;
  required: boolean;
}

/** The fields the current step asks for: its required forms, or a free text for `submit` steps. */
function formFields(attachment: Attachment): FormField[] {
  const fields: FormField[] = [];
  for (const approval of attachment.currentStage?.approvals ?? []) {
    const schema = approval.requiredForm?.schema as { fields?: { name?: string; label?: string; required?: boolean }[] } | null;
    for (const field of schema?.fields ?? []) {
      if (field.name && !fields.some((f) => f.name === field.name)) {
        fields.push({ name: field.name, label: field.label ?? humanize(field.name), required: !!field.required });
      }
    }
    if (approval.behaviour === 'SUBMIT' && !approval.requiredForm && !fields.some((f) => f.name === 'submission')) {
      fields.push({ name: 'submission', label: 'Submission', required: true });
    }
  }
  return fields;
}

function describeEvent(event: WorkflowEvent): HTMLElement {
  const actor = event.actor?.displayName ?? 'The system';
  const from = event.fromStage?.nameEn;
  const to = event.toStage?.nameEn;
  let text: string;
  switch (event.type) {
    case 'APPROVED':
      text = `${actor} approved${from ? ` ${from}` : ''}`;
      break;
    case 'STAGE_MOVED':
      text = `Moved ${from ? `from ${from} ` : ''}to ${to ?? 'the next stage'}`;
      break;
    case 'PIPELINE_MOVED':
      text = `Moved to the ${event.toPipeline?.nameEn ?? 'next'} pipeline`;
      break;
    case 'DELEGATED':
      text = `${actor} delegated${from ? ` ${from}` : ''} to ${event.delegate?.displayName ?? 'a colleague'}`;
      break;
    case 'RESUBMISSION_REQUESTED':
      text = `${actor} sent it back to ${to ?? 'an earlier stage'}`;
      break;
    case 'REJECTED':
      text = `${actor} rejected it${from ? ` at ${from}` : ''}`;
      break;
    default:
      text = `${humanize(event.type)}${event.actor ? ` by ${actor}` : ''}${to ? ` (${to})` : ''}`;
  }
  const formData = event.formData && typeof event.formData === 'object' ? Object.entries(event.formData as object) : [];
  return h(
    'li',
    { 'data-testid': 'history-item', 'data-event-id': event.id, 'data-event-type': event.type },
    h('span', { class: `event-type type-${event.type.toLowerCase()}` }, humanize(event.type)),
    h('span', null, text),
    event.reason ? h('q', null, event.reason) : null,
    formData.length ? h('span', { class: 'muted small' }, formData.map(([k, v]) => `${k}: ${String(v)}`).join(', ')) : null,
    // The state right after this event (each event keeps its own).
    h(
      'span',
      { class: 'muted small', 'data-testid': 'history-snapshot' },
      `${humanize(event.snapshot.status)}, ${Math.round(event.snapshot.progress.percentage)}%`,
    ),
    h('time', { class: 'muted small', datetime: event.occurredAt }, formatTime(event.occurredAt)),
  );
}

/**
 * One attachment: progress, current approvers, decisions and history, kept live by the
 * attachmentEvents subscription. After a reconnect it subscribes again with `since:` set to
 * the last event it saw, so the server replays whatever happened while the socket was down.
 */
export const attachmentScreen: Screen = (app, root, params) => {
  const id = params.id;
  let active = true;
  let attachment: Attachment | null = null;
  const events = new Map<string, WorkflowEvent>();
  // The global id of the newest event seen (`since` of a resubscription), and its key.
  let lastSeen: string | null = null;
  let lastSeenKey = 0;
  let subscription: { unsubscribe(): void } | null = null;
  let reloadTimer: number | undefined;
  let formStageId: string | null | undefined;
  // Whom the viewer may delegate to: the active users of their company (the `colleagues` lookup).
  let colleagues: { id: string; displayName: string }[] = [];

  // Sections redrawn independently, so typing in the action form survives live updates.
  const summary = h('section', { class: 'card summary' });
  const approvers = h('section', { class: 'card' });
  const actions = h('section', { class: 'card actions', 'data-testid': 'actions' });
  const history = h('section', { class: 'card' });
  const actionError = h('p', { class: 'error', role: 'alert', 'data-testid': 'action-error' });
  render(root, loading());

  const remember = (event: WorkflowEvent) => {
    events.set(event.id, event);
    if (lastSeen === null || event.databaseId > lastSeenKey) {
      lastSeen = event.id;
      lastSeenKey = event.databaseId;
    }
  };

  const follow = () => {
    subscription = app.api.client
      .subscription(AttachmentEventsSubscription, { attachmentId: id, since: lastSeen })
      .subscribe((result) => {
        if (result.error) return app.toast(describeError(result.error), 'error');
        const event = result.data?.attachmentEvents;
        if (!event || events.has(event.id)) return;
        remember(event);
        if (attachment && event.attachment) {
          // Show the new progress at once; the full state (approvers, actions) is read next.
          const { status, progress, currentStage, currentPipeline } = event.attachment;
          const color = attachment.workflow.pipelines
            .flatMap((pipeline) => pipeline.stages)
            .find((stage) => stage.id === currentStage?.id)?.color;
          attachment = {
            ...attachment,
            status,
            progress,
            currentStage: currentStage
              ? {
                  ...currentStage,
                  color: color ?? '#888',
                  approvals: attachment.currentStage?.id === currentStage.id ? attachment.currentStage.approvals : [],
                }
              : null,
            currentPipeline: currentPipeline ?? attachment.currentPipeline,
          };
          drawSummary();
        }
        drawHistory(event.id);
        window.clearTimeout(reloadTimer);
        reloadTimer = window.setTimeout(() => void load(), 100);
      });
  };

  async function load(): Promise<void> {
    try {
      const [data, people] = await Promise.all([
        app.api.query(AttachmentQuery, { id }),
        colleagues.length ? null : app.api.query(ColleaguesQuery, { first: 100 }),
      ]);
      if (!active) return;
      if (people) colleagues = people.colleagues.filter((person) => person.id !== app.viewer.user.id);
      const loaded = data.workflowAttachment;
      if (!loaded) throw new Error('This workflow attachment was not found.');
      attachment = loaded;
      (loaded.events?.nodes ?? []).forEach(remember);
      if (!root.contains(summary)) {
        render(
          root,
          h('p', null, h('a', { href: '#/inbox' }, '← My approvals')),
          h('h1', { 'data-testid': 'attachment-title' }, attachment.target.display),
          h('div', { class: 'columns' }, h('div', null, summary, actions), h('div', null, approvers, history)),
        );
      }
      drawSummary();
      drawApprovers();
      drawActions();
      drawHistory();
      if (!subscription) follow();
    } catch (error) {
      if (active && !attachment) render(root, failure(describeError(error)));
      else app.toast(describeError(error), 'error');
    }
  }

  function drawSummary(): void {
    if (!attachment) return;
    const a = attachment;
    render(
      summary,
      h('div', { class: 'row' }, statusPill(a.status), h('span', { class: 'muted' }, a.workflow.nameEn)),
      progressBar(a.progress),
      h(
        'dl',
        null,
        h('dt', null, 'Waiting in'),
        h('dd', { 'data-testid': 'current-stage' }, stageChip(a.currentStage), a.currentPipeline ? ` in ${a.currentPipeline.nameEn}` : ''),
        h('dt', null, 'Next'),
        h('dd', null, a.nextStage?.nameEn ?? '—'),
        h('dt', null, 'Started'),
        h('dd', null, `${a.startedBy?.displayName ?? '—'}, ${formatTime(a.startedAt)}`),
        a.completedAt ? [h('dt', null, 'Finished'), h('dd', null, formatTime(a.completedAt))] : null,
      ),
      h('ol', { class: 'path' }, pathItems(a)),
    );
  }

  function pathItems(a: Attachment): HTMLElement[] {
    const stages = a.workflow.pipelines.flatMap((pipeline) => pipeline.stages);
    const currentIndex = stages.findIndex((stage) => stage.id === a.currentStage?.id);
    return stages.map((stage, index) => {
      const state =
        a.status === 'COMPLETED' || (currentIndex >= 0 && index < currentIndex)
          ? 'done'
          : index === currentIndex
            ? a.status === 'IN_PROGRESS' ? 'current' : 'stopped'
            : 'pending';
      return h('li', { class: state, style: { borderColor: stage.color } }, stage.nameEn);
    });
  }

  function drawApprovers(): void {
    if (!attachment) return;
    const list = attachment.currentApprovers;
    render(
      approvers,
      h('h2', null, 'Current approvers'),
      list.length === 0
        ? h('p', { class: 'muted' }, attachment.status === 'IN_PROGRESS' ? 'Nobody can act on this step.' : 'Finished.')
        : h(
            'ul',
            { class: 'approvers', 'data-testid': 'approvers' },
            list.map((approver) =>
              h(
                'li',
                null,
                h('strong', null, approver.user.displayName),
                approver.role ? h('span', { class: 'muted' }, ` · ${approver.role.name}`) : null,
                approver.behaviour !== 'APPROVE' ? h('span', { class: 'pill' }, humanize(approver.behaviour)) : null,
                approver.isDelegated ? h('span', { class: 'pill' }, 'delegated') : null,
                approver.isCheckedIn ? h('span', { class: 'pill' }, 'checked in') : null,
                approver.user.id === app.viewer.user.id ? h('span', { class: 'pill you' }, 'you') : null,
              ),
            ),
          ),
    );
  }

  function drawHistory(highlight?: string): void {
    const sorted = [...events.values()].sort((x, y) => Number(y.id) - Number(x.id));
    render(
      history,
      h('h2', null, 'History'),
      h(
        'ol',
        { class: 'history', 'data-testid': 'history' },
        sorted.map((event) => {
          const item = describeEvent(event);
          if (event.id === highlight) item.classList.add('new');
          return item;
        }),
      ),
    );
  }

  function drawActions(): void {
    if (!attachment) return;
    const a = attachment;
    if (a.status !== 'IN_PROGRESS') {
      formStageId = undefined;
      actionError.textContent = '';
      return render(actions, h('h2', null, 'Decide'), h('p', { class: 'muted' }, `This workflow is ${humanize(a.status).toLowerCase()}.`));
    }
    const available = new Set(a.availableActions);
    if (formStageId === (a.currentStage?.id ?? null)) {
      // Same step: keep what the user typed, only refresh the hints.
      actions.querySelectorAll<HTMLButtonElement>('button[data-action]').forEach((button) => {
        button.classList.toggle('unavailable', !available.has(button.dataset.action as never));
      });
      hint.textContent = hintText(available);
      return;
    }
    formStageId = a.currentStage?.id ?? null;
    actionError.textContent = ''; // a new step: an earlier refusal no longer applies
    render(actions, ...actionForm(app, a, available));
  }

  const hint = h('p', { class: 'muted small', 'data-testid': 'actions-hint' });
  const hintText = (available: Set<string>) =>
    available.size
      ? `You may: ${[...available].map((action) => humanize(action).toLowerCase()).join(', ')}.`
      : 'The server lists no decision for you on this step; if you try one, it explains why.';

  function actionForm(app: App, a: Attachment, available: Set<string>): Child[] {
    const fields = formFields(a);
    const inputs = fields.map((field) =>
      h('input', { name: field.name, required: field.required, 'data-field': field.name, placeholder: field.required ? 'required' : '' }),
    );
    const comment = h('input', { name: 'comment', placeholder: 'Optional comment', 'data-testid': 'comment' });
    const reason = h('input', { name: 'reason', placeholder: 'Why? (needed to reject or send back)', 'data-testid': 'reason' });
    const behaviours = new Set((a.currentStage?.approvals ?? []).map((approval) => approval.behaviour));

    const delegateTo = h(
      'select',
      { 'data-testid': 'delegate-to', 'aria-label': 'Delegate to' },
      h('option', { value: '' }, 'Delegate to…'),
      colleagues.map((person) => h('option', { value: person.id }, person.displayName)),
    );

    const stages = a.workflow.pipelines.flatMap((pipeline) => pipeline.stages);
    const currentIndex = stages.findIndex((stage) => stage.id === a.currentStage?.id);
    const backTo = h(
      'select',
      { 'data-testid': 'resubmit-stage', 'aria-label': 'Send back to stage' },
      stages.slice(0, currentIndex + 1).map((stage) => h('option', { value: stage.id }, stage.nameEn)),
    );

    const formData = (): Record<string, string> | null => {
      const data: Record<string, string> = {};
      inputs.forEach((input) => input.value.trim() && (data[input.name] = input.value.trim()));
      return Object.keys(data).length ? data : null;
    };

    const act = async (label: string, run: () => Promise<MutationError | null | undefined>) => {
      actionError.textContent = '';
      actions.querySelectorAll('button').forEach((button) => (button.disabled = true));
      try {
        const error = await run();
        if (error) {
          actionError.textContent = describeMutationError(error);
        } else {
          app.toast(`${label}: done.`);
          [...inputs, comment, reason].forEach((input) => (input.value = ''));
          await load();
        }
      } catch (failure) {
        actionError.textContent = describeError(failure);
      } finally {
        actions.querySelectorAll('button').forEach((button) => (button.disabled = false));
      }
    };
    // Every decision names the step this page shows: if the workflow has moved on since, the
    // server refuses it (CONFLICT) instead of applying it to a step the user never saw.
    const expectedStageId = a.currentStage?.id ?? null;
    const input = () => ({ attachmentId: a.id, expectedStageId, formData: formData(), comment: comment.value });
    const button = (action: string, label: string, onClick: () => void, primary = false) =>
      h(
        'button',
        {
          type: 'button',
          'data-action': action,
          class: [primary ? 'primary' : '', available.has(action) ? '' : 'unavailable'].join(' ').trim(),
          title: available.has(action) ? '' : 'Not available to you now: the server will say why.',
          onClick,
        },
        label,
      );

    const approveLabel = behaviours.has('SUBMIT') ? 'Submit' : behaviours.has('MOVE') ? 'Move on' : 'Approve';
    hint.textContent = hintText(available);
    return [
      h('h2', null, 'Decide'),
      hint,
      actionError,
      fields.length
        ? h('fieldset', null, h('legend', null, 'Form'), fields.map((field, index) => h('label', null, field.label + (field.required ? ' *' : ''), inputs[index])))
        : null,
      comment,
      h(
        'div',
        { class: 'buttons' },
        behaviours.has('CHECK_IN_VERIFY')
          ? [
              button('CHECK_IN', 'Check in', () =>
                act('Check in', async () => (await app.api.mutate(CheckInStageMutation, { input: { attachmentId: a.id, expectedStageId, comment: comment.value } })).checkInStage?.error ?? null),
              ),
              button('VERIFY', 'Verify', () =>
                act('Verify', async () => (await app.api.mutate(VerifyStageMutation, { input: input() })).verifyStage?.error ?? null),
                true,
              ),
            ]
          : button(
              'APPROVE',
              approveLabel,
              () => act(approveLabel, async () => (await app.api.mutate(ApproveStageMutation, { input: input() })).approveStage?.error ?? null),
              true,
            ),
      ),
      reason,
      h(
        'div',
        { class: 'buttons' },
        button('REJECT', 'Reject', () =>
          act('Reject', async () => (await app.api.mutate(RejectStageMutation, { input: { attachmentId: a.id, expectedStageId, reason: reason.value } })).rejectStage?.error ?? null),
        ),
        backTo,
        button('REQUEST_RESUBMISSION', 'Send back', () =>
          act('Send back', async () =>
            (await app.api.mutate(RequestResubmissionMutation, { input: { attachmentId: a.id, expectedStageId, stageId: backTo.value, reason: reason.value } }))
              .requestResubmission?.error ?? null,
          ),
        ),
      ),
      h(
        'div',
        { class: 'buttons' },
        delegateTo,
        button('DELEGATE', 'Delegate', () =>
          act('Delegate', async () =>
            (await app.api.mutate(DelegateStageMutation, {
              input: { attachmentId: a.id, expectedStageId, toUserId: delegateTo.value, reason: reason.value },
            })).delegateStage?.error ?? null,
          ),
        ),
      ),
    ];
  }

  void load();
  // The socket dropped: stop this subscription; when it is back, follow again from the last
  // event seen (the server replays the missed ones) and read the current state.
  const stopClosed = app.api.ws.on('closed', () => {
    subscription?.unsubscribe();
    subscription = null;
  });
  const stopReconnect = app.api.onReconnect(() => {
    if (attachment && !subscription) follow();
    void load();
  });
  return () => {
    active = false;
    window.clearTimeout(reloadTimer);
    subscription?.unsubscribe();
    stopClosed();
    stopReconnect();
  };
};
