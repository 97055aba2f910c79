// Apollo Client 4's normalized cache (InMemoryCache) against the committed SDL: a pushed event
// updates the cached attachment and stage, and every event keeps its own snapshot; node(id:)
// refetches every Node type through an ApolloClient; an attachment's target is the same record
// as the business object's own type (Target is an interface).
//
// Every document is validated against the committed SDL (schema/schema.graphql) first, so the
// shapes written to the cache are ones the server answers.
// Run: node tests/apollo-cache.mjs (the Python test suite runs it).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ApolloClient, ApolloLink, InMemoryCache, gql } from '@apollo/client';
import { buildSchema, validate } from 'graphql';
import { of } from 'rxjs';

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
const implementing = (name) =>
  Object.values(schema.getTypeMap())
    .filter((type) => typeof type.getInterfaces === 'function' && type.getInterfaces().some((i) => i.name === name))
    .map((type) => type.name);
const possibleTypes = { Node: implementing('Node'), Target: implementing('Target') };
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

// --- node(id:) refetches every Node type through an ApolloClient, updating the cached record.
const answers = new Map(); // global id -> the object node(id:) answers
const client = new ApolloClient({
  cache: new InMemoryCache({ possibleTypes }),
  link: new ApolloLink((operation) => of({ data: { node: answers.get(operation.variables.id) ?? null } })),
});
const refetched = [];
for (const [index, typeName] of possibleTypes.Node.entries()) {
  const key = 100 + index;
  const id = gid(typeName, key);
  const fragment = gql(`fragment Known${typeName} on ${typeName} { id databaseId }`);
  const refetch = gql(`query Refetch${typeName}($id: ID!) { node(id: $id) { __typename id ... on ${typeName} { databaseId } } }`);
  assert.deepEqual(validate(schema, refetch).map((e) => e.message), [], `node(id:) of ${typeName} is valid`);
  // A stale copy in the cache (written by some other query), then the refetch.
  client.cache.writeFragment({ fragment, data: { __typename: typeName, id, databaseId: -1 } });
  answers.set(id, { __typename: typeName, id, databaseId: key });
  const { data } = await client.query({ query: refetch, variables: { id }, fetchPolicy: 'network-only' });
  assert.equal(data.node.__typename, typeName);
  assert.equal(client.cache.readFragment({ id: client.cache.identify({ __typename: typeName, id }), fragment }).databaseId, key);
  refetched.push(typeName);
}
assert.deepEqual(refetched.sort(), [
  'Company', 'Department', 'Form', 'Pipeline', 'PurchaseRequest', 'Role', 'Stage', 'User',
  'Workflow', 'WorkflowAction', 'WorkflowAttachment', 'WorkflowEvent',
]);
// An unknown (or another company's) id answers null: nothing is cached for it.
const missing = await client.query({
  query: gql`query Missing($id: ID!) { node(id: $id) { id } }`,
  variables: { id: gid('Workflow', 999) },
  fetchPolicy: 'network-only',
});
assert.equal(missing.data.node, null);

// --- Target is an interface: an attachment's target is the PurchaseRequest record itself.
assert.deepEqual(possibleTypes.Target.sort(), ['BusinessObject', 'PurchaseRequest']);
const REQUESTS = gql`query Requests { purchaseRequests(first: 5) { edges { node { id title workflowStatus } } } }`;
const TARGET = gql`
  query Target($id: ID!) {
    workflowAttachment(id: $id) { id target { __typename id display ... on PurchaseRequest { workflowStatus } } }
  }
`;
for (const document of [REQUESTS, TARGET]) assert.deepEqual(validate(schema, document).map((e) => e.message), []);
const request = gid('PurchaseRequest', 5);
const requests = new InMemoryCache({ possibleTypes });
requests.writeQuery({
  query: REQUESTS,
  data: {
    purchaseRequests: {
      __typename: 'PurchaseRequestConnection',
      edges: [{ __typename: 'PurchaseRequestEdge', node: { __typename: 'PurchaseRequest', id: request, title: 'Laptops', workflowStatus: 'pending' } }],
    },
  },
});
requests.writeQuery({
  query: TARGET,
  variables: { id: attachmentId },
  data: {
    workflowAttachment: {
      __typename: 'WorkflowAttachment',
      id: attachmentId,
      target: { __typename: 'PurchaseRequest', id: request, display: 'Purchase Request: Laptops - $2400.00', workflowStatus: 'approved' },
    },
  },
});
// The list shows the status the attachment's target brought: one record, not two.
assert.equal(requests.readQuery({ query: REQUESTS }).purchaseRequests.edges[0].node.workflowStatus, 'approved');
console.log(`apollo-cache: passed; a pushed event updated the cached attachment and stage; node(id:) refetched ${refetched.length} Node types; a target is its PurchaseRequest record`);
