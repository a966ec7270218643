/**
 * Public surface of the port-scan domain: port specs and lists, the scan engine with service
 * detection and the connection budget the scans of one process share, host summaries, comparisons
 * and host views. Service detection itself is loaded from `portscan/detect/index.js` only by those
 * who probe (the CLI loads it lazily).
 */
export type { HostScanResult, PortLists, PortScanRequest, ScanProgressEvent, ServiceDetector, ServiceProbeOptions } from './types.js';
export { PortSet, formatPortSet, parsePortSpec } from './ports.js';
export { loadPortLists, serviceForPort } from './port-lists.js';
export { type ConnectorKind, selectConnector } from './connect.js';
export { FdBudget, createConnectionBudget } from './fd-budget.js';
export { type HostScanRun, type ServiceDetectionSettings, scanHosts, serviceDetection } from './run.js';
export { type HostBlock, countPorts, mergeHostBlocks, summarizeHost } from './summarize.js';
export { type HostComparison, type PortScanComparison, type ScanSide, comparePortScans } from './compare.js';
export { type HostPortView, buildHostView } from './host-view.js';
export { findPingPort, pingCandidates } from './ping-port.js';
