import { describeError } from '../api';
import type { Screen } from '../app';
import { StatisticsQuery } from '../documents';
import { h, render, svg } from '../dom';
import { failure, loading } from './common';

interface Bar {
  label: string;
  value: number;
  color: string;
}

/** A horizontal bar chart in plain SVG. */
function barChart(title: string, bars: Bar[]): HTMLElement {
  const rowHeight = 30;
  const labelWidth = 170;
  const width = 560;
  const max = Math.max(1, ...bars.map((bar) => bar.value));
  const chart = svg(
    'svg',
    { viewBox: `0 0 ${width} ${bars.length * rowHeight + 10}`, width: '100%', role: 'img', 'aria-label': title },
    ...bars.flatMap((bar, index) => {
      const y = index * rowHeight + 5;
      const barWidth = ((width - labelWidth - 50) * bar.value) / max;
      return [
        svg('text', { x: 0, y: y + 18, class: 'chart-label' }, bar.label),
        svg('rect', { x: labelWidth, y, width: Math.max(barWidth, 2), height: rowHeight - 8, rx: 3, fill: bar.color }),
        svg('text', { x: labelWidth + barWidth + 6, y: y + 18, class: 'chart-value' }, String(bar.value)),
      ];
    }),
  );
  return h('figure', { class: 'card chart', 'data-testid': 'chart' }, h('figcaption', null, title), chart);
}

export const statisticsScreen: Screen = (app, root) => {
  let active = true;
  render(root, h('h1', null, 'Statistics'), loading());
  app.api
    .query(StatisticsQuery, {})
    .then((data) => {
      if (!active) return;
      if (!data.workflowStatistics) throw new Error('No statistics.');
      const overview = data.workflowStatistics.overview;
      const byStatus: Bar[] = [
        { label: 'Not started', value: data.notStarted?.totalCount ?? 0, color: '#95a5a6' },
        { label: 'In progress', value: data.inProgress?.totalCount ?? 0, color: '#2980b9' },
        { label: 'Completed', value: data.completed?.totalCount ?? 0, color: '#27ae60' },
        { label: 'Rejected', value: data.rejected?.totalCount ?? 0, color: '#c0392b' },
        { label: 'Cancelled', value: data.cancelled?.totalCount ?? 0, color: '#7f8c8d' },
      ];
      const perStage = new Map<string, Bar>();
      for (const edge of data.waiting?.edges ?? []) {
        const stage = edge.node.currentStage;
        if (!stage) continue;
        const key = stage.clonedFromId ?? stage.id;
        const bar = perStage.get(key) ?? { label: stage.nameEn, value: 0, color: stage.color };
        bar.value += 1;
        perStage.set(key, bar);
      }
      const figures: [string, string | number][] = [
        ['Workflow templates', overview.totalWorkflows],
        ['Active templates', overview.activeWorkflows],
        ['Pipelines', overview.totalPipelines],
        ['Stages', overview.totalStages],
        ['Approvals configured', overview.totalApprovals],
        ['Stages per workflow', overview.avgStagesPerWorkflow],
      ];
      render(
        root,
        h('h1', null, 'Statistics'),
        h(
          'div',
          { class: 'figures' },
          figures.map(([label, value]) =>
            h('div', { class: 'card figure' }, h('div', { class: 'figure-value' }, String(value)), h('div', { class: 'muted' }, label)),
          ),
        ),
        h(
          'div',
          { class: 'charts' },
          barChart('Requests by status', byStatus),
          barChart('In progress, by waiting stage', [...perStage.values()]),
        ),
      );
    })
    .catch((error) => active && render(root, h('h1', null, 'Statistics'), failure(describeError(error))));
  return () => {
    active = false;
  };
};
