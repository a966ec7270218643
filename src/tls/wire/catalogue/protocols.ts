import type { ProtocolName } from '../../model.js';

/** Wire version of each protocol: ClientHello/ServerHello `version`, record header, supported_versions. */
export const PROTOCOL_VERSIONS: Readonly<Record<ProtocolName, number>> = {
  SSLv2: 0x0002,
  SSLv3: 0x0300,
  'TLSv1.0': 0x0301,
  'TLSv1.1': 0x0302,
  'TLSv1.2': 0x0303,
  'TLSv1.3': 0x0304,
};

const protocolsByVersion: ReadonlyMap<number, ProtocolName> = new Map(
  (Object.entries(PROTOCOL_VERSIONS) as [ProtocolName, number][]).map(([name, version]) => [version, name]),
);

/** The protocol a wire version stands for; undefined for drafts (0x7fxx), GREASE and anything unknown. */
export function protocolFromVersion(version: number): ProtocolName | undefined {
  return protocolsByVersion.get(version);
}
