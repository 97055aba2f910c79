import type { Screen } from '../app';
import { formatTime, h, render } from '../dom';
import { loading, progressBar, stageChip } from './common';

/** My pending approvals: re-drawn whenever the live inbox store changes. */
export const inboxScreen: Screen = (app, root) => {
  const draw = () => {
    const { inbox } = app;
    if (!inbox.loaded) return render(root, h('h1', null, 'My pending approvals'), loading());
    render(
      root,
      h('h1', null, 'My pending approvals ', h('span', { class: 'muted' }, `(${inbox.totalCount})`)),
      inbox.items.length === 0
        ? h('p', { class: 'empty', 'data-testid': 'inbox-empty' }, 'Nothing waits for you. New items appear here live.')
        : h(
            'table',
            { class: 'list', 'data-testid': 'inbox' },
            h(
              'thead',
              null,
              h('tr', null, ...['Request', 'Workflow', 'Waiting in', 'Progress', 'Started'].map((t) => h('th', null, t))),
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
                    class: inbox.recentlyEntered.has(item.id) ? 'new' : undefined,
                  },
                  h('td', null, h('a', { href: `#/attachments/${item.id}` }, item.target.display)),
                  h('td', null, item.workflow.nameEn),
                  h('td', null, stageChip(item.currentStage), h('div', { class: 'muted small' }, item.currentPipeline?.nameEn ?? '')),
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
