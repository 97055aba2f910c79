import { describeError } from '../api';
import type { Screen } from '../app';
import { WorkflowDiagramQuery, WorkflowEventsSubscription, WorkflowsQuery } from '../documents';
import { h, humanize, render } from '../dom';
import type { ResultOf } from '../graphql';
import { newRequestCard } from '../requests';
import { failure, loading } from './common';

/** The company's workflow templates, and a new purchase request to run one of them on. */
export const workflowsScreen: Screen = (app, root) => {
  let active = true;
  const newRequest = newRequestCard(app, () => active);
  render(root, h('h1', null, 'Workflows'), newRequest, loading());
  app.api
    .query(WorkflowsQuery, {})
    .then((data) => {
      if (!active) return;
      const workflows = (data.workflows?.edges ?? []).map((edge) => edge.node);
      render(
        root,
        h('h1', null, 'Workflows'),
        newRequest,
        workflows.length === 0
          ? h('p', { class: 'empty' }, 'No workflow templates yet.')
          : h(
              'div',
              { class: 'cards' },
              workflows.map((workflow) =>
                h(
                  'a',
                  { class: 'card workflow-card', href: `#/workflows/${workflow.id}`, 'data-testid': 'workflow-card' },
                  h('h2', null, workflow.nameEn, workflow.isActive ? null : h('span', { class: 'pill' }, 'inactive')),
                  h('p', null, workflow.description || h('span', { class: 'muted' }, 'No description.')),
                  h('p', { class: 'muted' }, `${workflow.pipelinesCount} pipelines · ${workflow.totalStagesCount} stages`),
                ),
              ),
            ),
      );
    })
    .catch((error) => active && render(root, h('h1', null, 'Workflows'), newRequest, failure(describeError(error))));
  return () => {
    active = false;
  };
};

type Diagram = ResultOf<typeof WorkflowDiagramQuery>;
type Approval = NonNullable<Diagram['workflow']>['pipelines'][number]['stages'][number]['approvals'][number];

function approverText(approval: Approval): string {
  const who =
    approval.approvalType === 'USER'
      ? approval.user?.displayName ?? 'a user'
      : `${approval.role?.name ?? 'a role'} (${approval.strategyDisplay ?? 'anyone'}${approval.quorumCount ? ` ${approval.quorumCount}` : ''})`;
  const what = approval.behaviour === 'APPROVE' ? '' : ` · ${humanize(approval.behaviour)}`;
  const form = approval.requiredForm ? ` · form: ${approval.requiredForm.name}` : '';
  return who + what + form;
}

/**
 * A workflow drawn as lanes (pipelines) of nodes (stages) in the stage's colour, with the
 * number of approvals each stage needs and, live, how many requests wait in it.
 */
export const workflowDiagramScreen: Screen = (app, root, params) => {
  let active = true;
  let refreshTimer: number | undefined;
  render(root, h('h1', null, 'Workflow'), loading());

  const draw = (data: Diagram) => {
    const workflow = data.workflow;
    if (!workflow) throw new Error('This workflow was not found.');
    const waiting = new Map<string, number>();
    for (const edge of data.workflowAttachments?.edges ?? []) {
      const stage = edge.node.currentStage;
      const key = stage?.clonedFromId ?? stage?.id;
      if (key) waiting.set(key, (waiting.get(key) ?? 0) + 1);
    }
    render(
      root,
      h('p', null, h('a', { href: '#/workflows' }, '← Workflows')),
      h('h1', null, workflow.nameEn),
      workflow.description ? h('p', { class: 'muted' }, workflow.description) : null,
      h(
        'p',
        { class: 'muted' },
        `${data.workflowAttachments?.totalCount ?? 0} requests in progress. Counts update live.`,
      ),
      h(
        'div',
        { class: 'diagram', 'data-testid': 'diagram' },
        workflow.pipelines.map((pipeline, index) => [
          index > 0 ? h('div', { class: 'lane-arrow', 'aria-hidden': 'true' }, '↓') : null,
          h(
            'section',
            { class: 'lane', 'data-testid': 'lane' },
            h(
              'header',
              null,
              h('strong', null, pipeline.nameEn),
              h('span', { class: 'muted small' }, pipeline.department?.name ?? ''),
            ),
            h(
              'div',
              { class: 'nodes' },
              pipeline.stages.map((stage, stageIndex) => [
                stageIndex > 0 ? h('span', { class: 'arrow', 'aria-hidden': 'true' }, '→') : null,
                h(
                  'div',
                  { class: 'node', style: { background: stage.color }, 'data-testid': 'stage-node' },
                  h('div', { class: 'node-title' }, stage.nameEn),
                  h(
                    'div',
                    { class: 'node-count' },
                    `${stage.approvalsCount} approval${stage.approvalsCount === 1 ? '' : 's'}`,
                  ),
                  h('ul', null, stage.approvals.map((approval) => h('li', null, approverText(approval)))),
                  waiting.get(stage.id)
                    ? h('div', { class: 'node-waiting', 'data-testid': 'waiting' }, `${waiting.get(stage.id)} waiting`)
                    : null,
                ),
              ]),
            ),
          ),
        ]),
      ),
    );
  };

  const load = () =>
    app.api
      .query(WorkflowDiagramQuery, { id: params.id })
      .then((data) => active && draw(data))
      .catch((error) => active && render(root, h('h1', null, 'Workflow'), failure(describeError(error))));
  void load();

  // Any event of a request running this workflow may move it: read the counts again.
  const events = app.api.client
    .subscription(WorkflowEventsSubscription, { workflowId: params.id })
    .subscribe(() => {
      window.clearTimeout(refreshTimer);
      refreshTimer = window.setTimeout(load, 150);
    });
  const stopReconnect = app.api.onReconnect(() => void load());
  return () => {
    active = false;
    window.clearTimeout(refreshTimer);
    events.unsubscribe();
    stopReconnect();
  };
};
