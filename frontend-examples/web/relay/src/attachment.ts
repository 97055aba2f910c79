// Relay fragments over the committed SDL: relay-compiler checks them (global ids, `node(id:)`,
// the Relay connection shape of `events`). `npm run relay` compiles them.
import { graphql } from 'relay-runtime';

// Refetchable because WorkflowAttachment is a Node and the root has node(id:).
export const AttachmentSummary = graphql`
  fragment attachmentSummary_attachment on WorkflowAttachment
  @refetchable(queryName: "AttachmentSummaryRefetchQuery") {
    id
    status
    progress { percentage completedStages totalStages }
    currentStage { id nameEn }
  }
`;

// The audit trail as a Relay connection, paged forwards with keyset cursors.
export const AttachmentHistory = graphql`
  fragment attachmentHistory_attachment on WorkflowAttachment
  @argumentDefinitions(first: { type: "Int", defaultValue: 20 }, after: { type: "String" })
  @refetchable(queryName: "AttachmentHistoryPaginationQuery") {
    events(first: $first, after: $after) @connection(key: "AttachmentHistory_events") {
      edges { node { id type occurredAt snapshot { status progress { percentage } } } }
    }
  }
`;

// A stage refetched by its global id.
export const StageName = graphql`
  fragment attachmentStage_stage on Stage @refetchable(queryName: "StageRefetchQuery") {
    id
    nameEn
  }
`;
