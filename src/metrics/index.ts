import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The product's Prometheus metrics, one registry per process (tests make their own so they never
 * share counters). Job handlers record; `/metrics` exposes.
 */
export interface Metrics {
  registry: Registry;
  portScansSubmitted: Counter<'outcome'>;
  portScansFinished: Counter<'status'>;
  portProbes: Counter<'state'>;
  portScanDuration: Histogram;
  hostsScanned: Counter;
  tlsScansSubmitted: Counter<'outcome'>;
  tlsScansFinished: Counter<'status'>;
  /** One per assessed endpoint, by its grade (`error` when it could not be assessed). */
  tlsEndpointGrades: Counter<'grade'>;
  tlsAssessmentDuration: Histogram;
  queueJobs: Gauge<'state'>;
  /** The SSL Labs governor, sampled at scrape time: max, current, running, waiting (assessments); cool-off and pause in seconds. */
  sslLabs: Gauge<'quantity'>;
  sslLabsEvents: Gauge<'event'>;
  httpRequestDuration: Histogram<'method' | 'route' | 'status'>;
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'portcullis_process_' });
  return {
    registry,
    portScansSubmitted: new Counter({
      name: 'portcullis_port_scans_submitted_total',
      help: 'Port scan requests, by outcome (accepted, rejected).',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    portScansFinished: new Counter({
      name: 'portcullis_port_scans_finished_total',
      help: 'Port scans that ended, by final status.',
      labelNames: ['status'],
      registers: [registry],
    }),
    portProbes: new Counter({
      name: 'portcullis_port_probes_total',
      help: 'Ports classified, by state.',
      labelNames: ['state'],
      registers: [registry],
    }),
    portScanDuration: new Histogram({
      name: 'portcullis_port_scan_duration_seconds',
      help: 'Wall time of finished port scans.',
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600],
      registers: [registry],
    }),
    hostsScanned: new Counter({
      name: 'portcullis_hosts_scanned_total',
      help: 'Hosts whose scan finished and was stored.',
      registers: [registry],
    }),
    tlsScansSubmitted: new Counter({
      name: 'portcullis_tls_scans_submitted_total',
      help: 'TLS scan requests, by outcome (accepted, rejected).',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    tlsScansFinished: new Counter({
      name: 'portcullis_tls_scans_finished_total',
      help: 'TLS scans that ended, by final status.',
      labelNames: ['status'],
      registers: [registry],
    }),
    tlsEndpointGrades: new Counter({
      name: 'portcullis_tls_endpoint_grades_total',
      help: 'Endpoints assessed by the TLS engine, by grade (error: could not be assessed).',
      labelNames: ['grade'],
      registers: [registry],
    }),
    tlsAssessmentDuration: new Histogram({
      name: 'portcullis_tls_assessment_duration_seconds',
      help: 'Wall time of one host:port TLS assessment (all its endpoints).',
      buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300],
      registers: [registry],
    }),
    queueJobs: new Gauge({
      name: 'portcullis_queue_jobs',
      help: 'Jobs in the queue, by state (sampled at scrape time).',
      labelNames: ['state'],
      registers: [registry],
    }),
    sslLabs: new Gauge({
      name: 'portcullis_ssllabs',
      help: 'SSL Labs governor state at scrape time: max_assessments, current_assessments, running, waiting, cool_off_seconds, paused_seconds (left).',
      labelNames: ['quantity'],
      registers: [registry],
    }),
    sslLabsEvents: new Gauge({
      name: 'portcullis_ssllabs_events',
      help: 'SSL Labs events since the process started: started (assessments), rate_limited (429 answers), pauses (503/529).',
      labelNames: ['event'],
      registers: [registry],
    }),
    httpRequestDuration: new Histogram({
      name: 'portcullis_http_request_duration_seconds',
      help: 'API request latency, by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
  };
}
