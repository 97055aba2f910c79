// Every GraphQL document the dashboard sends. Result and variable types are inferred by gql.tada.
import { graphql } from './graphql';

// ------------------------------------------------------------------------------ fragments

export const EventFields = graphql(`
  fragment EventFields on WorkflowEvent {
    id
    databaseId
    type
    reason
    formData
    occurredAt
    actor { id displayName }
    delegate { id displayName }
    fromStage { id nameEn }
    toStage { id nameEn }
    toPipeline { id nameEn }
    attachment {
      id
      status
      currentStage { id nameEn }
      currentPipeline { id nameEn }
      progress { percentage completedStages totalStages }
    }
    snapshot { status currentStageName progress { percentage } }
  }
`);

export const AttachmentSummary = graphql(`
  fragment AttachmentSummary on WorkflowAttachment {
    id
    status
    createdAt
    target { model objectId display }
    workflow { id nameEn clonedFromId }
    currentPipeline { id nameEn }
    currentStage { id nameEn color }
    progress { percentage completedStages totalStages }
    availableActions
  }
`);

// -------------------------------------------------------------------------------- queries

export const MeQuery = graphql(`
  query Me {
    me {
      user { id username displayName }
      company { id name }
      roles { id name }
    }
  }
`);

export const WorkflowsQuery = graphql(`
  query Workflows {
    workflows(first: 50, order: NAME) {
      totalCount
      edges {
        node { id nameEn description isActive pipelinesCount totalStagesCount }
      }
    }
  }
`);

export const WorkflowDiagramQuery = graphql(`
  query WorkflowDiagram($id: ID!) {
    workflow(id: $id) {
      id
      nameEn
      description
      pipelines {
        id
        nameEn
        order
        department { id name }
        stages {
          id
          nameEn
          order
          color
          approvalsCount
          approvals {
            approvalType
            behaviour
            strategyDisplay
            quorumCount
            role { id name }
            user { id displayName }
            requiredForm { id name }
          }
        }
      }
    }
    workflowAttachments(first: 100, filter: { workflowId: $id, status: [IN_PROGRESS] }) {
      totalCount
      edges { node { id currentStage { id clonedFromId } } }
    }
  }
`);

export const InboxQuery = graphql(
  `
  query Inbox {
    myPendingApprovals(first: 50) {
      totalCount
      edges { node { ...AttachmentSummary startedBy { id displayName } dueAt isOverdue } }
    }
  }
`,
  [AttachmentSummary],
);

export const AttachmentQuery = graphql(
  `
  query Attachment($id: ID!) {
    workflowAttachment(id: $id) {
      ...AttachmentSummary
      startedAt
      completedAt
      startedBy { id displayName }
      nextStage { id nameEn }
      currentApprovers {
        user { id username displayName }
        role { id name }
        isDelegated
        isCheckedIn
        behaviour
      }
      currentStage {
        id
        approvals {
          behaviour
          role { id name }
          user { id displayName }
          requiredForm { id name schema }
        }
      }
      workflow {
        pipelines {
          id
          nameEn
          stages {
            id
            nameEn
            color
            approvals { user { id displayName } }
          }
        }
      }
      events(first: 100) {
        totalCount
        nodes { ...EventFields }
      }
    }
  }
`,
  [AttachmentSummary, EventFields],
);

export const StatisticsQuery = graphql(`
  query Statistics {
    workflowStatistics {
      overview {
        totalWorkflows
        activeWorkflows
        inactiveWorkflows
        totalPipelines
        totalStages
        totalApprovals
        avgPipelinesPerWorkflow
        avgStagesPerWorkflow
      }
    }
    notStarted: workflowAttachments(first: 1, filter: { status: [NOT_STARTED] }) { totalCount }
    inProgress: workflowAttachments(first: 1, filter: { status: [IN_PROGRESS] }) { totalCount }
    completed: workflowAttachments(first: 1, filter: { status: [COMPLETED] }) { totalCount }
    rejected: workflowAttachments(first: 1, filter: { status: [REJECTED] }) { totalCount }
    cancelled: workflowAttachments(first: 1, filter: { status: [CANCELLED] }) { totalCount }
    waiting: workflowAttachments(first: 100, filter: { status: [IN_PROGRESS] }) {
      edges { node { id currentStage { id nameEn color clonedFromId } } }
    }
  }
`);

// ------------------------------------------------------------------------------ mutations

const MutationErrorFields = graphql(`
  fragment MutationErrorFields on MutationError { code message field }
`);

export const ApproveStageMutation = graphql(
  `
  mutation ApproveStage($input: ApproveStageInput!) {
    approveStage(input: $input) {
      attachment { id status }
      error { ...MutationErrorFields }
    }
  }
`,
  [MutationErrorFields],
);

export const CheckInStageMutation = graphql(
  `
  mutation CheckInStage($input: CheckInStageInput!) {
    checkInStage(input: $input) {
      attachment { id status }
      error { ...MutationErrorFields }
    }
  }
`,
  [MutationErrorFields],
);

export const VerifyStageMutation = graphql(
  `
  mutation VerifyStage($input: VerifyStageInput!) {
    verifyStage(input: $input) {
      attachment { id status }
      error { ...MutationErrorFields }
    }
  }
`,
  [MutationErrorFields],
);

export const RejectStageMutation = graphql(
  `
  mutation RejectStage($input: RejectStageInput!) {
    rejectStage(input: $input) {
      attachment { id status }
      error { ...MutationErrorFields }
    }
  }
`,
  [MutationErrorFields],
);

export const DelegateStageMutation = graphql(
  `
  mutation DelegateStage($input: DelegateStageInput!) {
    delegateStage(input: $input) {
      attachment { id status }
      error { ...MutationErrorFields }
    }
  }
`,
  [MutationErrorFields],
);

export const RequestResubmissionMutation = graphql(
  `
  mutation RequestResubmission($input: RequestResubmissionInput!) {
    requestResubmission(input: $input) {
      attachment { id status }
      error { ...MutationErrorFields }
    }
  }
`,
  [MutationErrorFields],
);

// -------------------------------------------------------------------------- subscriptions

export const AttachmentEventsSubscription = graphql(
  `
  subscription AttachmentEvents($attachmentId: ID!, $since: ID) {
    attachmentEvents(attachmentId: $attachmentId, since: $since) { ...EventFields }
  }
`,
  [EventFields],
);

export const WorkflowEventsSubscription = graphql(`
  subscription WorkflowEvents($workflowId: ID!) {
    workflowEvents(workflowId: $workflowId) { id type attachment { id } }
  }
`);

export const InboxChangedSubscription = graphql(`
  subscription InboxChanged {
    myInboxChanged { change attachmentId eventId eventType }
  }
`);
