import Type from 'typebox';

/**
 * The HTTP contract, as JSON Schema through TypeBox: Fastify validates requests and serialises
 * responses with these, and @fastify/swagger publishes them as OpenAPI.
 */

export const Problem = Type.Object(
  {
    type: Type.String({ description: 'URI naming the problem type: `urn:portcullis:problem:<code>`.' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String({ description: 'What went wrong, in words a user can act on.' }),
    instance: Type.Optional(Type.String()),
    code: Type.String({ description: 'Stable error code, e.g. `target.invalid`, `scope.denied`, `ports.invalid`, `not-found`.' }),
    field: Type.Optional(Type.String({ description: 'The request field holding the offending value, e.g. `targets[2]`.' })),
    value: Type.Optional(Type.String({ description: 'The offending value.' })),
    errors: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }), { description: 'Every schema violation, for request.invalid.' })),
  },
  {
    additionalProperties: true,
    description: 'RFC 9457 problem details (`application/problem+json`).',
    examples: [
      {
        type: 'urn:portcullis:problem:scope.denied',
        title: 'Forbidden',
        status: 403,
        detail: 'targets[0] 169.254.169.254 may not be scanned: 169.254.169.254 is a built-in denied address: cloud metadata (AWS, GCP, Azure, OpenStack); scans may never include it',
        instance: '/api/v1/port-scans',
        code: 'scope.denied',
        field: 'targets[0]',
        value: '169.254.169.254',
        rule: '169.254.169.254',
        reason: 'cloud metadata (AWS, GCP, Azure, OpenStack)',
      },
    ],
  },
);

/**
 * An integer a request may send. The nested type check is not redundant: Fastify's validator coerces
 * the text "Infinity" (a query value or a JSON string) to a number that passes `integer` and skips
 * minimum and maximum, which ajv applies to finite numbers only; checked again, it is refused.
 */
export function FiniteInteger(options: Parameters<typeof Type.Integer>[0] = {}) {
  return Type.Integer({ ...options, allOf: [{ type: 'integer' }] });
}

/** The `offset` of a list: bounded, so a huge one is a 400 rather than a number the database refuses. */
export const PageOffset = FiniteInteger({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0 });

/**
 * Free text a list is filtered by. Control characters are refused: no stored value holds one, and
 * PostgreSQL refuses NUL in text outright, which would turn a search into a 500.
 */
export function SearchText(options: { maxLength: number; description: string }) {
  return Type.String({ ...options, pattern: '^[^\\u0000-\\u001f\\u007f-\\u009f]*$' });
}

/** An error response as OpenAPI should show it: problem+json, not plain JSON. */
export function problemResponse(description: string) {
  return { description, content: { 'application/problem+json': { schema: Problem } } };
}

const ScanStatus = Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('done'), Type.Literal('failed'), Type.Literal('cancelled')]);
const PortState = Type.Union([Type.Literal('open'), Type.Literal('closed'), Type.Literal('filtered')]);

export const PortScanOptions = Type.Object(
  {
    timing: Type.Optional(FiniteInteger({ minimum: 0, maximum: 5, description: 'nmap-style timing template T0–T5 (0 paranoid … 5 insane); default 3.' })),
    timeoutMs: Type.Optional(FiniteInteger({ minimum: 50, maximum: 60000, description: 'Upper bound of the adaptive per-probe timeout, ms.' })),
    concurrency: Type.Optional(FiniteInteger({ minimum: 1, maximum: 10000, description: 'Maximum probes in flight (capped by the server setting).' })),
    maxRetries: Type.Optional(FiniteInteger({ minimum: 0, maximum: 10, description: 'Maximum retransmissions of an unanswered probe.' })),
    maxHostConnections: Type.Optional(
      FiniteInteger({
        minimum: 1,
        maximum: 10000,
        description:
          'Politeness: most connections in flight to one address at once (capped by the server setting `portscan.maxHostConnections`); default no cap beyond congestion control. A capped scan also waits while another capped scan probes the same addresses, so the cap holds across scans and workers.',
      }),
    ),
    serviceDetection: Type.Optional(Type.Boolean({ description: 'Probe open ports for banner, HTTP and TLS; default true.' })),
    bannerTimeoutMs: Type.Optional(FiniteInteger({ minimum: 1, maximum: 60000, description: 'How long to wait for a server-first banner, ms.' })),
    assessTls: Type.Optional(
      Type.Boolean({ description: 'Also grade the TLS of open ports where service detection completed a TLS handshake; the scan links to that TLS scan (`links.tlsScans`).' }),
    ),
  },
  { additionalProperties: false },
);

export const CreatePortScanBody = Type.Object(
  {
    targets: Type.Array(Type.String({ minLength: 1, maxLength: 255 }), {
      minItems: 1,
      maxItems: 1000,
      description: 'IPv4/IPv6 addresses, CIDR blocks, dash ranges (`10.0.0.1-20`) and hostnames. Every resolved address is checked against the scope policy.',
    }),
    exclude: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 255 }), { maxItems: 1000, description: 'Addresses, ranges or hostnames to leave out.' })),
    ports: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 4096,
        description: 'Port spec: `22,80,443`, `1-1024`, `-` (all), `top-100`, or a named list from the port-list file (`web`, `databases`…). Default from the server config (`top-1000`).',
      }),
    ),
    options: Type.Optional(PortScanOptions),
  },
  {
    additionalProperties: false,
    examples: [
      { targets: ['127.0.0.1', 'app.internal'], ports: 'top-1000' },
      { targets: ['10.0.0.0/24'], exclude: ['10.0.0.1'], ports: '22,80,443,8000-8100', options: { timing: 4, serviceDetection: true } },
      { targets: ['2001:db8::/120'], ports: 'web' },
    ],
  },
);

const Links = Type.Record(Type.String(), Type.String());

const Progress = Type.Object({
  done: Type.Number(),
  total: Type.Number(),
  percent: Type.Number({ description: '0–100, one decimal.' }),
});

const Stats = Type.Object({
  hostsTotal: Type.Number(),
  hostsUp: Type.Number(),
  open: Type.Number(),
  closed: Type.Number(),
  filtered: Type.Number(),
  portsPerHost: Type.Number(),
  durationMs: Type.Number(),
});

export const PortScanSummary = Type.Object({
  id: Type.String(),
  status: ScanStatus,
  targets: Type.Array(Type.String()),
  exclude: Type.Array(Type.String()),
  ports: Type.String({ description: 'The port spec as requested.' }),
  portSet: Type.String({ description: 'Canonical list of the ports scanned on every host, so a diff can tell "not scanned" from "closed".' }),
  portCount: Type.Integer(),
  options: PortScanOptions,
  addressCount: Type.Integer(),
  hostsDone: Type.Integer(),
  progress: Progress,
  createdAt: Type.String({ format: 'date-time' }),
  startedAt: Type.Optional(Type.String({ format: 'date-time' })),
  finishedAt: Type.Optional(Type.String({ format: 'date-time' })),
  durationMs: Type.Optional(Type.Number()),
  error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
  stats: Type.Optional(Stats),
  shards: Type.Optional(
    Type.Integer({ description: 'Present when the scan was split into shard jobs (blocks of whole hosts, or, in scans of fewer than 64 addresses, port blocks of one host when its ports exceed a shard; about `portscan.shardProbes` probes each) run by any workers in parallel.' }),
  ),
  links: Links,
});

export const Service = Type.Object(
  {
    name: Type.String(),
    product: Type.Optional(Type.String()),
    version: Type.Optional(Type.String()),
    banner: Type.Optional(Type.String()),
    method: Type.String({ description: '`probed` (we talked to it) or `table` (name from the port ranking).' }),
    tls: Type.Optional(
      Type.Object(
        {
          version: Type.Optional(Type.String()),
          cipher: Type.Optional(Type.String()),
          alpn: Type.Optional(Type.String()),
          subject: Type.Optional(Type.String()),
          issuer: Type.Optional(Type.String()),
          subjectAltNames: Type.Optional(Type.Array(Type.String())),
          notAfter: Type.Optional(Type.String()),
          selfSigned: Type.Optional(Type.Boolean()),
        },
        { description: 'Present when the port completed a TLS handshake: the TLS engine can assess it.' },
      ),
    ),
    http: Type.Optional(
      Type.Object({
        status: Type.Integer(),
        server: Type.Optional(Type.String()),
        title: Type.Optional(Type.String()),
        location: Type.Optional(Type.String()),
        poweredBy: Type.Optional(Type.String()),
      }),
    ),
  },
);

export const Port = Type.Object({
  port: Type.Integer(),
  protocol: Type.Literal('tcp'),
  state: PortState,
  reason: Type.String({ description: 'nmap reason: syn-ack, conn-refused, no-response, host-unreach, net-unreach, admin-prohibited…' }),
  rttMs: Type.Optional(Type.Number()),
  service: Type.Optional(Service),
});

export const Host = Type.Object(
  {
  ip: Type.String(),
  hostnames: Type.Array(Type.String()),
  status: Type.Union([Type.Literal('up'), Type.Literal('no-response')]),
  counts: Type.Object({ open: Type.Integer(), closed: Type.Integer(), filtered: Type.Integer() }),
  extraPorts: Type.Optional(
    Type.Object(
      { state: Type.String(), count: Type.Integer(), reasons: Type.Record(Type.String(), Type.Integer()) },
      { description: 'Ports in this state are counted, not listed (like nmap\'s "Not shown: 997 closed ports").' },
    ),
  ),
  srttMs: Type.Optional(Type.Number()),
  ports: Type.Array(Port, { description: 'Open ports (all listed ports with `?ports=all`).' }),
  },
  {
    examples: [
      {
        ip: '127.0.0.1',
        hostnames: ['app.internal'],
        status: 'up',
        counts: { open: 2, closed: 998, filtered: 0 },
        extraPorts: { state: 'closed', count: 998, reasons: { 'conn-refused': 998 } },
        srttMs: 0.08,
        ports: [
          { port: 22, protocol: 'tcp', state: 'open', reason: 'syn-ack', rttMs: 0.1, service: { name: 'ssh', product: 'OpenSSH', version: '9.2p1', banner: 'SSH-2.0-OpenSSH_9.2p1 Debian-2', method: 'probed' } },
          { port: 443, protocol: 'tcp', state: 'open', reason: 'syn-ack', rttMs: 0.1, service: { name: 'https', product: 'nginx', version: '1.24.0', method: 'probed', tls: { version: 'TLSv1.3', subject: 'CN=app.internal', notAfter: '2027-01-31T00:00:00.000Z', selfSigned: false }, http: { status: 200, server: 'nginx/1.24.0', title: 'Welcome' } } },
        ],
      },
    ],
  },
);

export const PortScanDetail = Type.Intersect([
  PortScanSummary,
  Type.Object({
    hosts: Type.Object({
      items: Type.Array(Host),
      total: Type.Integer(),
      limit: Type.Integer(),
      offset: Type.Integer(),
    }),
  }),
]);

export const PortScanList = Type.Object({
  items: Type.Array(PortScanSummary),
  total: Type.Integer(),
  limit: Type.Integer(),
  offset: Type.Integer(),
  links: Links,
});

export const PortScanAccepted = Type.Object(
  {
    id: Type.String(),
    status: ScanStatus,
    addressCount: Type.Integer(),
    portCount: Type.Integer(),
    links: Links,
  },
  {
    examples: [
      {
        id: '6f1c2d0e-8a4b-4c1e-9f3a-2b7d5e9c0a11',
        status: 'queued',
        addressCount: 2,
        portCount: 1000,
        links: { self: '/api/v1/port-scans/6f1c2d0e-8a4b-4c1e-9f3a-2b7d5e9c0a11', cancel: '/api/v1/port-scans/6f1c2d0e-8a4b-4c1e-9f3a-2b7d5e9c0a11' },
      },
    ],
  },
);

export const PortScanCancelled = Type.Object({ id: Type.String(), status: ScanStatus, links: Links });

const PortChange = Type.Object({ port: Type.Integer(), from: Type.String(), to: Type.String() });

export const Comparison = Type.Object(
  {
    a: Type.Object({ id: Type.String(), createdAt: Type.String(), status: ScanStatus, portSet: Type.String() }),
    b: Type.Object({ id: Type.String(), createdAt: Type.String(), status: ScanStatus, portSet: Type.String() }),
    complete: Type.Boolean({ description: 'False when either scan has not finished: the comparison covers only what was stored so far.' }),
    portsOnlyInA: Type.String(),
    portsOnlyInB: Type.String(),
    summary: Type.Record(Type.String(), Type.Integer()),
    hosts: Type.Array(
      Type.Object(
        {
          ip: Type.String(),
          change: Type.String({ description: 'appeared, disappeared or changed.' }),
          newlyOpen: Type.Array(Type.Unknown()),
          newlyClosed: Type.Array(Type.Unknown()),
          stateChanges: Type.Array(PortChange),
          serviceChanges: Type.Array(Type.Unknown()),
          notScanned: Type.Object({ inA: Type.Array(Type.Integer()), inB: Type.Array(Type.Integer()) }),
        },
        { additionalProperties: true },
      ),
    ),
  },
);

export const HostView = Type.Object({
  ip: Type.String(),
  hostnames: Type.Array(Type.String()),
  scans: Type.Integer({ description: 'Scans that covered this address.' }),
  ports: Type.Array(
    Type.Object({
      port: Type.Integer(),
      protocol: Type.Literal('tcp'),
      state: Type.String({ description: 'State in the latest scan that scanned this port.' }),
      reason: Type.Optional(Type.String()),
      service: Type.Optional(Service),
      lastScanId: Type.String(),
      lastScannedAt: Type.String(),
      firstSeenOpen: Type.Optional(Type.String()),
      lastSeenOpen: Type.Optional(Type.String()),
      history: Type.Array(Type.Object({ scanId: Type.String(), at: Type.String(), state: Type.String() }), {
        description: 'State changes across scans, oldest first (only the scans where the state changed).',
      }),
    }),
  ),
  history: Type.Array(
    Type.Object({
      scanId: Type.String(),
      status: ScanStatus,
      createdAt: Type.String(),
      finishedAt: Type.Optional(Type.String()),
      portSet: Type.String(),
      hostStatus: Type.String(),
      counts: Type.Object({ open: Type.Integer(), closed: Type.Integer(), filtered: Type.Integer() }),
      openPorts: Type.Array(Type.Integer()),
    }),
  ),
  links: Links,
});

export const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9-]+$' }) });
