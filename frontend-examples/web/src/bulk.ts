// Bulk decisions from the inbox: approveStages / rejectStages decide up to 100 steps in one
// request, each in its own transaction, and answer with one result per item (the attachment
// after the decision, or the typed error that refused that item alone).
import type { Api } from './api';
import { graphql, type ResultOf } from './graphql';

export const MAX_BULK_ITEMS = 100;

const BulkResultFields = graphql(`
  fragment BulkResultFields on BulkDecisionResult {
    index
    attachmentId
    attachment { id status currentStage { id nameEn } }
    error { code field message }
  }
`);

export const ApproveStagesMutation = graphql(
  `
  mutation ApproveStages($input: ApproveStagesInput!) {
    approveStages(input: $input) {
      results { ...BulkResultFields }
      error { code field message }
    }
  }
`,
  [BulkResultFields],
);

export const RejectStagesMutation = graphql(
  `
  mutation RejectStages($input: RejectStagesInput!) {
    rejectStages(input: $input) {
      results { ...BulkResultFields }
      error { code field message }
    }
  }
`,
  [BulkResultFields],
);

export type BulkKind = 'approve' | 'reject';
export type BulkResult = ResultOf<typeof BulkResultFields>;

/** What the user picked: the attachment and the stage they saw it waiting in. */
export interface BulkItem {
  attachmentId: string;
  expectedStageId: string | null;
}

export interface BulkOutcome {
  kind: BulkKind;
  /** One per item, in the order sent; empty when the whole call was refused. */
  results: BulkResult[];
  /** Why nothing was decided at all (e.g. more than 100 items). */
  error: { code: string; field?: string | null; message: string } | null;
}

/** Approve or reject `items` in one request; GraphQL or network errors throw. */
export async function decideInBulk(api: Api, kind: BulkKind, items: BulkItem[], reason = ''): Promise<BulkOutcome> {
  if (kind === 'approve') {
    const data = await api.mutate(ApproveStagesMutation, { input: { items } });
    const payload = data.approveStages;
    return { kind, results: payload?.results ?? [], error: payload?.error ?? null };
  }
  const data = await api.mutate(RejectStagesMutation, {
    input: { items: items.map((item) => ({ ...item, reason })) },
  });
  const payload = data.rejectStages;
  return { kind, results: payload?.results ?? [], error: payload?.error ?? null };
}
