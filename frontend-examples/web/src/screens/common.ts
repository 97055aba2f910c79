import { h, humanize } from '../dom';

export function statusPill(status: string): HTMLElement {
  return h('span', { class: `pill status-${status.toLowerCase()}`, 'data-testid': 'status' }, humanize(status));
}

export function stageChip(stage: { nameEn: string; color?: string | null } | null | undefined): HTMLElement {
  if (!stage) return h('span', { class: 'muted' }, '—');
  return h(
    'span',
    { class: 'chip' },
    h('span', { class: 'dot', style: { background: stage.color || '#888' } }),
    stage.nameEn,
  );
}

export function progressBar(
  progress: { percentage: number; completedStages: number; totalStages: number },
  compact = false,
): HTMLElement {
  const percentage = Math.round(progress.percentage);
  return h(
    'div',
    { class: compact ? 'progress compact' : 'progress', 'data-testid': 'progress' },
    h(
      'div',
      {
        class: 'bar',
        role: 'progressbar',
        'aria-valuemin': 0,
        'aria-valuemax': 100,
        'aria-valuenow': percentage,
      },
      h('div', { class: 'fill', style: { width: `${percentage}%` } }),
    ),
    h(
      'span',
      { class: 'progress-text' },
      compact
        ? `${percentage}%`
        : `${percentage}% · ${progress.completedStages} of ${progress.totalStages} stages approved`,
    ),
  );
}

export function loading(): HTMLElement {
  return h('p', { class: 'muted' }, 'Loading…');
}

export function failure(message: string): HTMLElement {
  return h('p', { class: 'error', role: 'alert' }, message);
}
