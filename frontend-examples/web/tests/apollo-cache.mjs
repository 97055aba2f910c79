// Apollo Client's normalized cache (InMemoryCache) against the committed SDL: a pushed event
// updates the cached attachment and stage, and every event keeps its own snapshot.
//
// Every document is validated against the committed SDL (schema/schema.graphql) first, so the
// shapes written to the cache are ones the server answers.
// Run: node tests/apollo-cache.mjs (the Python test suite runs it).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { InMemoryCache, gql } from '@apollo/client/core/index.js';
import { buildSchema, validate } from 'graphql';

const schema = buildSchema(readFileSync(new URL('../../../schema/schema.graphql', import.meta.url), 'utf8'));

const gid = (type, key) => Buffer.from(`${type}:${key}`).toString('base64');

const ATTACHMENT = gql`
  query Attachment($id: ID!) {
    workflowAttachment(id: $id) {
      id
      status
      progress { percentage }
      currentStage { id nameEn }
      events(first: 100) { edges { cursor node { id type snapshot { status progress { percentage } } } } }
    }
  }
`;
const EVENTS = gql`
  subscription Events($id: ID!) {
    attachmentEvents(attachmentId: $id) {
      id
      type
      toStage { id nameEn }
      attachment { id status progress { percentage } currentStage { id nameEn } }
      snapshot { status progress { percentage } }
    }
  }
`;
const STAGE = gql`
  fragment StageName on Stage { id nameEn }
`;
for (const document of [ATTACHMENT, EVENTS, STAGE]) {
  // A lone fragment is valid for the cache, not as a request: skip the "unused" rule only.
  const errors = validate(schema, document).filter((e) => !e.message.endsWith('is never used.'));
  assert.deepEqual(errors.map((e) => e.message), [], 'a document the schema accepts');
}

// Node is the interface every entity implements: Apollo needs its implementations to match
// fragments on it (node(id:) answers `Node`).
const possibleTypes = {
  Node: Object.values(schema.getTypeMap())
    .filter((type) => typeof type.getInterfaces === 'function' && type.getInterfaces().some((i) => i.name === 'Node'))
    .map((type) => type.name),
};
assert.ok(possibleTypes.Node.includes('WorkflowAttachment') && possibleTypes.Node.includes('Stage'));

const cache = new InMemoryCache({ possibleTypes });
const attachmentId = gid('WorkflowAttachment', 7);
const initial = gid('Stage', 30);
const budget = gid('Stage', 31);
const snapshot = (status, percentage) => ({ __typename: 'AttachmentSnapshot', status, progress: { __typename: 'Progress', percentage } });
const event = (key, type, state, percentage) => ({
  __typename: 'WorkflowEvent',
  id: gid('WorkflowEvent', key),
  type,
  snapshot: snapshot(state, percentage),
});

cache.writeQuery({
  query: ATTACHMENT,
  variables: { id: attachmentId },
  data: {
    workflowAttachment: {
      __typename: 'WorkflowAttachment',
      id: attachmentId,
      status: 'IN_PROGRESS',
      progress: { __typename: 'Progress', percentage: 0 },
      currentStage: { __typename: 'Stage', id: initial, nameEn: 'Initial Review' },
      events: {
        __typename: 'WorkflowEventConnection',
        edges: [
          { __typename: 'WorkflowEventEdge', cursor: 'a', node: event(1, 'ATTACHED', 'NOT_STARTED', 0) },
          { __typename: 'WorkflowEventEdge', cursor: 'b', node: event(2, 'STARTED', 'IN_PROGRESS', 0) },
        ],
      },
    },
  },
});

// A pushed STAGE_MOVED event, as the server sends it.
cache.writeQuery({
  query: EVENTS,
  variables: { id: attachmentId },
  data: {
    attachmentEvents: {
      __typename: 'WorkflowEvent',
      id: gid('WorkflowEvent', 4),
      type: 'STAGE_MOVED',
      toStage: { __typename: 'Stage', id: budget, nameEn: 'Budget Approval' },
      attachment: {
        __typename: 'WorkflowAttachment',
        id: attachmentId,
        status: 'IN_PROGRESS',
        progress: { __typename: 'Progress', percentage: 25 },
        currentStage: { __typename: 'Stage', id: budget, nameEn: 'Budget Approval' },
      },
      snapshot: snapshot('IN_PROGRESS', 25),
    },
  },
});

const after = cache.readQuery({ query: ATTACHMENT, variables: { id: attachmentId } }).workflowAttachment;
// The cached attachment moved with the event, without another query.
assert.equal(after.progress.percentage, 25);
assert.equal(after.currentStage.id, budget);
assert.equal(after.currentStage.nameEn, 'Budget Approval');
// The stage is one record, shared by the attachment and the event.
assert.equal(cache.readFragment({ id: cache.identify({ __typename: 'Stage', id: budget }), fragment: STAGE }).nameEn, 'Budget Approval');
// Each event kept its own snapshot: the old ones were not overwritten by the new state.
assert.deepEqual(
  after.events.edges.map(({ node }) => [node.type, node.snapshot.status, node.snapshot.progress.percentage]),
  [
    ['ATTACHED', 'NOT_STARTED', 0],
    ['STARTED', 'IN_PROGRESS', 0],
  ],
);
// Global ids never collide: a Stage and a Workflow with the same key are two records.
cache.writeFragment({
  id: cache.identify({ __typename: 'Workflow', id: gid('Workflow', 31) }),
  fragment: gql`fragment W on Workflow { id nameEn }`,
  data: { __typename: 'Workflow', id: gid('Workflow', 31), nameEn: 'Purchase Request Approval' },
});
assert.equal(cache.readFragment({ id: cache.identify({ __typename: 'Stage', id: budget }), fragment: STAGE }).nameEn, 'Budget Approval');
console.log('apollo-cache: passed; a pushed event updated the cached attachment and stage');
