// What each credential may do on the bus. One table: the scoped signing keys are
// made from it, docs/security.md describes it, and the nats-auth test proves it
// against a real nats-server. A scoped signing key (NATS "user_scope") carries the
// permissions itself, so a user JWT it signs cannot claim more than its role,
// even if someone edits the JWT's permission fields before signing.
import type { Export, Import, Permissions } from '@nats-io/jwt';

export const ACCOUNT = { system: 'SYS', sentinel: 'SENTINEL', relay: 'RELAY' } as const;
export type AccountName = (typeof ACCOUNT)[keyof typeof ACCOUNT];

export const ROLES = ['gateway', 'proxy', 'matter', 'automations', 'relay'] as const;
export type Role = (typeof ROLES)[number];

/** Proxy ids become one subject token: no dots or wildcards (CONTRACT.md §3 id pattern). */
export const PROXY_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** The user name of a BLE proxy's credential; its JWT name is the bare id (the template below uses it). */
export const proxyUserName = (id: string) => `ble-proxy-${id}`;

/** The buckets a reader of the model may `get` from (CONTRACT.md §3). */
const READABLE_BUCKETS = ['sentinel_state', 'sentinel_entities', 'sentinel_devices'];

/**
 * JetStream API subjects that read a KV bucket and change none of its data: get
 * a key (direct or stream get), and keys/watch/history, which run on an ephemeral
 * ordered consumer (create, info, delete, flow control) delivered to an inbox.
 */
const kvReadSubjects = (bucket: string) => [
  `$JS.API.STREAM.INFO.KV_${bucket}`,
  `$JS.API.STREAM.MSG.GET.KV_${bucket}`,
  `$JS.API.DIRECT.GET.KV_${bucket}`,
  `$JS.API.DIRECT.GET.KV_${bucket}.>`,
  `$JS.API.CONSUMER.CREATE.KV_${bucket}`,
  `$JS.API.CONSUMER.CREATE.KV_${bucket}.>`,
  `$JS.API.CONSUMER.INFO.KV_${bucket}.*`,
  `$JS.API.CONSUMER.DELETE.KV_${bucket}.*`,
  `$JS.FC.KV_${bucket}.>`,
];

/** A bucket the role reads and writes (put and delete), but neither creates nor purges. */
const ownBucket = (bucket: string) => [...kvReadSubjects(bucket), `$KV.${bucket}.>`];

/** A leader lock: read the locks bucket, write only the role's own key in it. */
const ownLock = (subsystem: string) => [
  ...kvReadSubjects('sentinel_locks'),
  `$KV.sentinel_locks.${subsystem}`,
];

/** A reply to each request received, within the server's default window (2 minutes). */
const ANSWERS_REQUESTS = { max: 1, ttl: 0 };

/**
 * Permissions per role. Where a role answers requests it gets `resp` rather than
 * a publish right on every inbox, so it can answer but cannot inject replies.
 */
export const ROLE_PERMISSIONS: Record<
  Role,
  { account: AccountName; permissions: Permissions; describe: string }
> = {
  gateway: {
    account: ACCOUNT.sentinel,
    describe:
      'everything under sentinel.>, the JetStream API of its account (KV buckets, SENTINEL_HISTORY, the firmware object store OBJ_sentinel_firmware), writes to the firmware object store ($O.sentinel_firmware.>), its own inboxes; answers requests',
    permissions: {
      pub: {
        allow: [
          'sentinel.>',
          '$JS.API.>',
          '$JS.ACK.>',
          '$JS.FC.>',
          '$KV.>',
          // the OTA catalog's object store (chunks and metadata of sentinel_firmware), nothing else under $O
          '$O.sentinel_firmware.>',
          '_INBOX.>',
        ],
      },
      sub: { allow: ['sentinel.>', '_INBOX.>'] },
      resp: ANSWERS_REQUESTS,
    },
  },
  proxy: {
    account: ACCOUNT.sentinel,
    describe:
      'publishes only sentinel.ble.proxy.<own id>.>, subscribes only sentinel.ble.proxy.<own id>.gatt.>, answers the GATT requests it receives',
    permissions: {
      // {{name()}} is the user JWT's name, which add-proxy sets to the proxy id
      pub: { allow: ['sentinel.ble.proxy.{{name()}}.>'] },
      sub: { allow: ['sentinel.ble.proxy.{{name()}}.gatt.>'] },
      resp: ANSWERS_REQUESTS,
    },
  },
  matter: {
    account: ACCOUNT.sentinel,
    describe:
      'publishes and subscribes sentinel.matter.> (bridge events, controller requests), its own inboxes; answers requests; keeps the fabric in its own bucket sentinel_matter under its own lock key sentinel_locks.matter',
    permissions: {
      pub: { allow: ['sentinel.matter.>', ...ownBucket('sentinel_matter'), ...ownLock('matter')] },
      sub: { allow: ['sentinel.matter.>', '_INBOX.>'] },
      resp: ANSWERS_REQUESTS,
    },
  },
  automations: {
    account: ACCOUNT.sentinel,
    describe:
      'reads state (subscribes sentinel.state.>, sentinel.device.*.availability, sentinel.entity.*.availability; gets, lists and watches keys of sentinel_state, sentinel_entities, sentinel_devices), sends commands (requests sentinel.cmd.>), publishes sentinel.notify.> and sentinel.automations.trace.>; writes only its own bucket sentinel_automations and its own lock key sentinel_locks.automations',
    permissions: {
      pub: {
        allow: [
          'sentinel.cmd.>',
          'sentinel.notify.>',
          'sentinel.automations.trace.>',
          ...READABLE_BUCKETS.flatMap(kvReadSubjects),
          // its own durable timers and state: the one bucket it writes (put and delete)
          ...ownBucket('sentinel_automations'),
          // one runtime per cluster
          ...ownLock('automations'),
        ],
      },
      sub: {
        allow: [
          'sentinel.state.>',
          'sentinel.device.*.availability',
          'sentinel.entity.*.availability',
          '_INBOX.>',
        ],
      },
    },
  },
  relay: {
    account: ACCOUNT.relay,
    describe:
      'in the RELAY account: sees only what SENTINEL exports (sentinel.state.>, sentinel.device.*.availability) and may request sentinel.cmd.>',
    permissions: {
      pub: { allow: ['sentinel.cmd.>'] },
      // wide on purpose: the account boundary, not this list, decides what arrives
      sub: { allow: ['sentinel.>', '_INBOX.>'] },
    },
  },
};

/** What SENTINEL shares with RELAY across the account boundary. */
export const SENTINEL_EXPORTS: Export[] = [
  { name: 'state', subject: 'sentinel.state.>', type: 'stream' },
  { name: 'device availability', subject: 'sentinel.device.*.availability', type: 'stream' },
  { name: 'commands', subject: 'sentinel.cmd.>', type: 'service', response_type: 'Singleton' },
];

export const relayImports = (sentinelAccount: string): Import[] =>
  SENTINEL_EXPORTS.map((e) => ({ name: e.name, subject: e.subject, type: e.type, account: sentinelAccount }));
