/**
 * Hostile request inputs for the API fuzz suite (src/server/hostile-input.test.ts): ids for path
 * parameters, query values, malformed JSON, wrong content types, oversized bodies and wrong types
 * derived from each request schema. Operations come from the API's own OpenAPI document, so a new
 * route is fuzzed without a change here.
 */
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One request of the suite. `name` is stable: failure reports and the accepted-case lists use it. */
export interface HostileRequest {
  name: string;
  method: HttpMethod;
  url: string;
  headers?: Record<string, string>;
  /** A function for streams, which can be sent only once. */
  payload?: string | Buffer | (() => Readable);
  /** Runs once the answer arrived: releases what the payload holds. */
  settle?: () => void;
}

/** The part of a JSON Schema the generators read. */
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  examples?: unknown[];
}

export interface Operation {
  /** `POST /api/v1/targets/{id}`, as OpenAPI names the path. */
  key: string;
  method: HttpMethod;
  path: string;
  pathParams: string[];
  query: Array<{ name: string; schema: JsonSchema }>;
  /** The application/json request body schema, when the route declares one. */
  body: JsonSchema | undefined;
}

interface OpenApiDocument {
  paths: Record<string, Record<string, { parameters?: Array<{ in: string; name: string; schema: JsonSchema }>; requestBody?: { content: Record<string, { schema: JsonSchema }> } }>>;
}

/** Every operation of the document, in its order. */
export function operationsOf(spec: OpenApiDocument): Operation[] {
  return Object.entries(spec.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => {
      const parameters = op.parameters ?? [];
      return {
        key: `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase() as HttpMethod,
        path,
        pathParams: parameters.filter((p) => p.in === 'path').map((p) => p.name),
        query: parameters.filter((p) => p.in === 'query').map((p) => ({ name: p.name, schema: p.schema })),
        body: op.requestBody?.content['application/json']?.schema,
      };
    }),
  );
}

/** The path with its `{param}`s replaced by URL-ready segments. */
export function fillPath(path: string, segments: Record<string, string>): string {
  return path.replace(/\{([^}]+)\}/g, (_match, name: string) => {
    const segment = segments[name];
    if (segment === undefined) throw new Error(`no value for path parameter ${name} of ${path}`);
    return segment;
  });
}

/* ------------------------------------------------------------------------------------------------
 * Values
 * ---------------------------------------------------------------------------------------------- */

const HUGE_STRING = 'A'.repeat(100_000);

/** Strings that look harmless to a type check: unicode tricks, injections, control characters. */
export const HOSTILE_STRINGS: ReadonlyArray<{ name: string; value: string }> = [
  { name: 'RTL override', value: '\u202Etxt.exe' },
  { name: 'zero-width joiner', value: 'app\u200D.test' },
  { name: 'zero-width space', value: 'app\u200B.test' },
  { name: 'emoji', value: '\u{1F4A5}\u{1F525}.test' },
  { name: 'fullwidth digits', value: '\uFF11\uFF12\uFF17.\uFF10.\uFF10.\uFF11' },
  { name: 'arabic-indic digits', value: '\u0661\u0662\u0667.\u0660.\u0660.\u0661' },
  { name: 'cyrillic homoglyph', value: '\u0430pp.test' },
  { name: 'combining marks', value: `a${'\u0301'.repeat(500)}` },
  { name: 'lone surrogate', value: '\uD800' },
  { name: 'noncharacter', value: '\uFFFF' },
  { name: 'BOM', value: '\uFEFF' },
  { name: 'NUL', value: 'a\u0000b' },
  { name: 'CRLF injection', value: 'a\r\nX-Injected: 1' },
  { name: 'SQL', value: "' OR 1=1 --" },
  { name: 'SQL stacked', value: "1'; DROP TABLE targets; --" },
  { name: 'path traversal', value: '../../etc/passwd' },
  { name: 'format string', value: '%s%s%n%x' },
  { name: 'template', value: '${7*7}{{7*7}}' },
  { name: 'HTML', value: '<script>alert(1)</script>' },
  { name: 'CSV formula', value: "=cmd|' /C calc'!A0" },
  { name: 'empty', value: '' },
  { name: 'whitespace', value: ' \t ' },
  { name: 'huge 100k', value: HUGE_STRING },
];

/**
 * encodeURIComponent, except that a lone surrogate (which it refuses) becomes the bytes a careless
 * encoder would send for it (WTF-8, e.g. `%ED%A0%80`): invalid UTF-8 the server must cope with.
 */
function percentEncode(value: string): string {
  return value.replace(/[^]/gu, (c) => {
    const code = c.charCodeAt(0);
    if (c.length > 1 || code < 0xd800 || code > 0xdfff) return encodeURIComponent(c);
    return [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
  });
}

/**
 * Path segments, URL-ready: traversal raw and encoded, invalid and overlong UTF-8, NUL, ids far over
 * any length limit, unicode tricks, SQL, numbers and nothing at all.
 */
export const HOSTILE_IDS: ReadonlyArray<{ name: string; segment: string }> = [
  { name: 'traversal', segment: '../../etc/passwd' },
  { name: 'traversal %2f', segment: '..%2F..%2Fetc%2Fpasswd' },
  { name: 'traversal all-encoded', segment: '%2e%2e%2f%2e%2e%2fetc%2fpasswd' },
  { name: 'traversal double-encoded', segment: '%252e%252e%252fetc%252fpasswd' },
  { name: 'traversal backslash', segment: '..%5C..%5Cwindows%5Cwin.ini' },
  { name: 'traversal overlong slash', segment: '..%c0%af..%c0%afetc%c0%afpasswd' },
  { name: 'overlong dot', segment: '%c0%ae%c0%ae' },
  { name: 'dot', segment: '.' },
  { name: 'dot-dot', segment: '..' },
  { name: 'NUL', segment: '%00' },
  { name: 'NUL inside', segment: 'abc%00def' },
  { name: 'CRLF', segment: 'a%0d%0aSet-Cookie:%20x=1' },
  { name: 'invalid UTF-8', segment: '%ff%fe' },
  { name: 'bare percent', segment: '%' },
  { name: '65 characters', segment: 'a'.repeat(65) },
  { name: '10 kB', segment: 'a'.repeat(10_240) },
  { name: '10 kB encoded', segment: '%41'.repeat(10_240) },
  ...HOSTILE_STRINGS.filter((s) => !['huge 100k', 'empty', 'NUL', 'path traversal'].includes(s.name)).map((s) => ({ name: s.name, segment: percentEncode(s.value) })),
  { name: 'NoSQL operator', segment: encodeURIComponent('{"$ne":null}') },
  { name: 'zero', segment: '0' },
  { name: 'one', segment: '1' },
  { name: 'negative', segment: '-1' },
  { name: 'float', segment: '1.5' },
  { name: 'huge number', segment: '99999999999999999999999999' },
  { name: 'exponent', segment: '1e309' },
  { name: 'empty', segment: '' },
];

/** JSON texts of every type and of the edges of number precision, each with a name. */
const JSON_VALUES: ReadonlyArray<{ name: string; json: string; type: 'null' | 'boolean' | 'number' | 'string' | 'array' | 'object' }> = [
  { name: 'null', json: 'null', type: 'null' },
  { name: 'true', json: 'true', type: 'boolean' },
  { name: 'false', json: 'false', type: 'boolean' },
  { name: 'array', json: '[]', type: 'array' },
  { name: 'array of null', json: '[null]', type: 'array' },
  { name: 'nested arrays', json: '[[[[]]]]', type: 'array' },
  { name: 'object', json: '{}', type: 'object' },
  { name: 'object with a key', json: '{"a":1}', type: 'object' },
  { name: 'huge string', json: JSON.stringify(HUGE_STRING), type: 'string' },
];

/** Numbers for a property: out of its bounds, fractional, beyond double precision, overflowing. */
function numbersFor(schema: JsonSchema): Array<{ name: string; json: string }> {
  const { minimum, maximum } = schema;
  const numbers = [
    ...(minimum !== undefined ? [{ name: 'below minimum', json: String(minimum - 1), value: minimum - 1 }] : []),
    ...(maximum !== undefined ? [{ name: 'above maximum', json: String(maximum + 1), value: maximum + 1 }] : []),
    { name: 'zero', json: '0', value: 0 },
    { name: 'negative', json: '-1', value: -1 },
    { name: 'fraction', json: '1.5', value: 1.5 },
    { name: '2^53+1', json: '9007199254740993', value: 2 ** 53 + 1 },
    { name: '-2^63-1', json: '-9223372036854775809', value: -(2 ** 63) },
    { name: '1e308', json: '1e308', value: 1e308 },
    { name: 'overflow 1e309', json: '1e309', value: Number.POSITIVE_INFINITY },
  ];
  const types = admittedTypes(schema);
  if (!types.has('integer') && !types.has('number')) return numbers;
  const integerOnly = !types.has('number');
  const schemaAccepts = (v: number) => Number.isFinite(v) && (!integerOnly || Number.isInteger(v)) && (minimum === undefined || v >= minimum) && (maximum === undefined || v <= maximum);
  // What the schema accepts is valid input, not hostile, unless it is extreme: an open-ended
  // number has to cope with whatever the schema lets through.
  const extreme = (v: number) => !Number.isFinite(v) || Math.abs(v) > Number.MAX_SAFE_INTEGER || Math.abs(v) >= 1e300;
  return numbers.filter((n) => !schemaAccepts(n.value) || extreme(n.value));
}

/** The JSON types a schema admits (`type`, or the members of `anyOf`). */
function admittedTypes(schema: JsonSchema): Set<string> {
  const types = new Set<string>();
  if (schema.anyOf) for (const member of schema.anyOf) for (const t of admittedTypes(member)) types.add(t);
  if (schema.type !== undefined) for (const t of [schema.type].flat()) types.add(t);
  if (schema.enum !== undefined) for (const v of schema.enum) types.add(v === null ? 'null' : typeof v);
  return types;
}

/** The object and array shapes a schema allows: itself, or the members of its (nested) `anyOf`. */
function alternatives(schema: JsonSchema): JsonSchema[] {
  return schema.anyOf ? schema.anyOf.flatMap(alternatives) : [schema];
}

/* ------------------------------------------------------------------------------------------------
 * Bodies
 * ---------------------------------------------------------------------------------------------- */

/** Where a mutation goes in a body: property names and `0` for the first array item. */
type JsonPath = Array<string | number>;

function pathName(path: JsonPath): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

const SLOT = '\u0000HOSTILE-SLOT\u0000';

/** The base body as JSON text with the value at `path` replaced by raw JSON text (which may be invalid on purpose). */
function bodyWith(base: unknown, path: JsonPath, rawJson: string): string {
  const copy = structuredClone(base) as Record<string | number, unknown>;
  let node: Record<string | number, unknown> = copy;
  path.forEach((key, i) => {
    if (i === path.length - 1) {
      node[key] = SLOT;
      return;
    }
    const next = node[key];
    const wantArray = typeof path[i + 1] === 'number';
    if (typeof next !== 'object' || next === null || Array.isArray(next) !== wantArray) node[key] = wantArray ? [] : {};
    node = node[key] as Record<string | number, unknown>;
  });
  return JSON.stringify(copy).replace(JSON.stringify(SLOT), () => rawJson);
}

/**
 * One mutation at a time of every property of the schema (nested objects, array items and record
 * values included): every JSON type the property does not admit, numbers out of its bounds, a string
 * over its maxLength, the hostile strings, and prototype-pollution objects.
 */
export function schemaMutations(schema: JsonSchema, base: unknown): Array<{ name: string; body: string }> {
  const out: Array<{ name: string; body: string }> = [];
  const walk = (node: JsonSchema, path: JsonPath, valueAtPath: unknown): void => {
    const types = admittedTypes(node);
    const at = (label: string, json: string) => out.push({ name: `body.${pathName(path)}: ${label}`, body: bodyWith(base, path, json) });
    for (const v of JSON_VALUES) if (!types.has(v.type) || v.name === 'huge string') at(v.name, v.json);
    for (const n of numbersFor(node)) at(n.name, n.json);
    // Text that a validator coercing types turns into a number that is no number.
    if (types.has('integer') || types.has('number')) for (const text of ['Infinity', '-Infinity', 'NaN']) at(`"${text}"`, JSON.stringify(text));
    for (const s of HOSTILE_STRINGS) if (s.name !== 'huge 100k') at(`"${s.name}"`, JSON.stringify(s.value));
    if (node.maxLength !== undefined) at('maxLength+1', JSON.stringify('a'.repeat(node.maxLength + 1)));
    at('__proto__ object', '{"__proto__":{"polluted":true}}');
    at('constructor.prototype object', '{"constructor":{"prototype":{"polluted":true}}}');

    for (const member of alternatives(node)) {
      for (const [name, child] of Object.entries(member.properties ?? {})) walk(child, [...path, name], (valueAtPath as Record<string, unknown> | undefined)?.[name]);
      if (typeof member.additionalProperties === 'object') {
        const key = Object.keys((valueAtPath as Record<string, unknown> | undefined) ?? {})[0] ?? 'fuzz';
        walk(member.additionalProperties, [...path, key], undefined);
        for (const s of HOSTILE_STRINGS) at(`key "${s.name}"`, JSON.stringify({ [s.value]: 'x' }));
      }
      if (member.items !== undefined) walk(member.items, [...path, 0], undefined);
    }
  };
  for (const [name, child] of Object.entries(schema.properties ?? {})) walk(child, [name], (base as Record<string, unknown>)[name]);
  return [...new Map(out.map((m) => [m.name, m])).values()];
}

/** A valid-looking body broken as JSON: truncated, trailing commas, NaN, deep nesting, duplicate keys, a BOM, raw invalid UTF-8. */
export function malformedJson(baseText: string): Array<{ name: string; payload: string | Buffer }> {
  const firstKey = /^\{"([^"]+)"/.exec(baseText)?.[1] ?? 'x';
  return [
    { name: 'truncated', payload: baseText.slice(0, Math.max(1, Math.floor(baseText.length / 2))) },
    { name: 'only an opening brace', payload: '{' },
    { name: 'trailing comma', payload: `${baseText.slice(0, -1)},}` },
    { name: 'trailing comma in array', payload: `[${baseText},]` },
    { name: 'NaN', payload: `${baseText.slice(0, -1)},"${firstKey}":NaN}` },
    { name: 'Infinity', payload: `{"${firstKey}":Infinity}` },
    { name: 'single quotes', payload: baseText.replace(/"/g, "'") },
    { name: 'comments', payload: `/* hi */${baseText}` },
    { name: 'unquoted keys', payload: baseText.replace(/"([A-Za-z]+)":/g, '$1:') },
    { name: '10k nested arrays', payload: `${'['.repeat(10_000)}${']'.repeat(10_000)}` },
    { name: '10k nested arrays in a property', payload: `{"${firstKey}":${'['.repeat(10_000)}${']'.repeat(10_000)}}` },
    { name: '10k nested objects', payload: `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}` },
    { name: '100k nested arrays unclosed', payload: '['.repeat(100_000) },
    { name: 'duplicate key, the later one wrong', payload: `${baseText.slice(0, -1)},"${firstKey}":[[{}]]}` },
    { name: 'duplicate key, the later one null', payload: `${baseText.slice(0, -1)},"${firstKey}":null}` },
    { name: 'BOM before an invalid body', payload: `\uFEFF${baseText.slice(0, -1)}` },
    { name: 'two BOMs', payload: `\uFEFF\uFEFF${baseText}` },
    { name: 'two documents', payload: `${baseText}${baseText}` },
    { name: 'trailing garbage', payload: `${baseText}xyz` },
    { name: 'top-level string', payload: '"hello"' },
    { name: 'top-level number', payload: '42' },
    { name: 'top-level null', payload: 'null' },
    { name: 'top-level array', payload: `[${baseText}]` },
    { name: 'empty', payload: '' },
    { name: 'whitespace', payload: ' \n\t ' },
    { name: 'NUL byte', payload: `${baseText.slice(0, 1)}\u0000${baseText.slice(1)}` },
    { name: 'invalid UTF-8 in a string', payload: Buffer.concat([Buffer.from(`{"${firstKey}":"`), Buffer.from([0xc0, 0xae, 0xff, 0xed, 0xa0, 0x80]), Buffer.from('"}')]) },
    { name: 'invalid escape', payload: `{"${firstKey}":"\\x41"}` },
    { name: 'lone surrogate escape', payload: `{"${firstKey}":"\\ud800"}` },
    { name: '__proto__ at the top', payload: `{"__proto__":{"polluted":true},${baseText.slice(1)}` },
    { name: 'constructor.prototype at the top', payload: `{"constructor":{"prototype":{"polluted":true}},${baseText.slice(1)}` },
  ];
}

/** The base body under content types a JSON route does not take, and with a missing or lying header. */
export function wrongContentTypes(baseText: string): Array<{ name: string; headers: Record<string, string>; payload: string | Buffer }> {
  return [
    { name: 'text/plain', headers: { 'content-type': 'text/plain' }, payload: baseText },
    { name: 'form-urlencoded', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'targets=127.0.0.1&name=x' },
    { name: 'multipart garbage', headers: { 'content-type': 'multipart/form-data; boundary=XyZ' }, payload: '--XyZ\r\nContent-Disposition: form-data; name="x"\r\n\r\n\u0000\u00ff garbage with no end' },
    { name: 'multipart without boundary', headers: { 'content-type': 'multipart/form-data' }, payload: baseText },
    { name: 'missing content-type', headers: {}, payload: Buffer.from(baseText) },
    { name: 'empty content-type', headers: { 'content-type': '' }, payload: baseText },
    { name: 'application/xml', headers: { 'content-type': 'application/xml' }, payload: '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>' },
    { name: 'application/octet-stream', headers: { 'content-type': 'application/octet-stream' }, payload: Buffer.from(baseText) },
    { name: 'application/jsonx', headers: { 'content-type': 'application/jsonx' }, payload: baseText },
    { name: 'json with charset utf-16', headers: { 'content-type': 'application/json; charset=utf-16' }, payload: Buffer.from(baseText, 'utf16le') },
    { name: 'gzip bomb', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, payload: gzipSync(Buffer.alloc(10 * 1024 * 1024, 0x20)) },
    { name: 'content-length lies (short)', headers: { 'content-type': 'application/json', 'content-length': '5' }, payload: baseText },
  ];
}

/**
 * A body stream that sends `bytes` spaces and then stalls without ending, as a slow or hostile client
 * does: a server that answers it decided without waiting for the rest of the body.
 */
export function stallingStream(bytes: number, chunkBytes = 64 * 1024): Readable {
  let sent = 0;
  const chunk = Buffer.alloc(chunkBytes, 0x20);
  return new Readable({
    read() {
      if (sent >= bytes) return;
      sent += chunkBytes;
      this.push(chunk);
    },
  });
}

/* ------------------------------------------------------------------------------------------------
 * Query strings
 * ---------------------------------------------------------------------------------------------- */

/**
 * Query values of the wrong type for each parameter, out of its bounds, repeated, malformed; unknown
 * and prototype-polluting parameters. `param` names the parameter a mutation replaces.
 */
export function queryMutations(parameters: ReadonlyArray<{ name: string; schema: JsonSchema }>): Array<{ name: string; param?: string; query: string }> {
  const out: Array<{ name: string; param?: string; query: string }> = [];
  const q = (name: string, value: string) => `${encodeURIComponent(name)}=${percentEncode(value)}`;
  for (const { name, schema } of parameters) {
    const types = admittedTypes(schema);
    const values: Array<{ label: string; value: string }> = [
      ...HOSTILE_STRINGS.map((s) => ({ label: `"${s.name}"`, value: s.value })),
      ...(schema.maxLength !== undefined ? [{ label: 'maxLength+1', value: 'a'.repeat(schema.maxLength + 1) }] : []),
    ];
    if (types.has('integer') || types.has('number')) {
      values.push(...numbersFor(schema).map((n) => ({ label: n.name, value: n.json })), { label: 'hex', value: '0x10' }, { label: 'word', value: 'ten' }, { label: 'NaN', value: 'NaN' }, { label: 'Infinity', value: 'Infinity' });
    }
    if (types.has('boolean')) values.push({ label: 'yes', value: 'yes' }, { label: '2', value: '2' }, { label: 'homoglyph true', value: 'tru\u0435' });
    if (schema.enum !== undefined || schema.anyOf !== undefined) {
      const first = String(schema.enum?.[0] ?? schema.anyOf?.[0]?.enum?.[0] ?? '');
      values.push({ label: 'enum upper-case', value: first.toUpperCase() }, { label: 'enum with NUL', value: `${first}\u0000` }, { label: 'enum with space', value: ` ${first}` });
    }
    const key = encodeURIComponent(name);
    for (const { label, value } of values) out.push({ name: `query.${name}: ${label}`, param: name, query: q(name, value) });
    out.push({ name: `query.${name}: repeated`, param: name, query: `${q(name, 'a')}&${q(name, 'b')}` });
    out.push({ name: `query.${name}: bracket array`, param: name, query: `${key}[]=1&${key}[]=2` });
    out.push({ name: `query.${name}: invalid UTF-8`, param: name, query: `${key}=%ff%fe%c0%ae` });
    out.push({ name: `query.${name}: bare percent`, param: name, query: `${key}=%` });
  }
  out.push(
    { name: 'query: unknown parameter', query: 'zzz=1' },
    { name: 'query: __proto__', query: '__proto__=1' },
    { name: 'query: __proto__ nested', query: '__proto__[polluted]=1' },
    { name: 'query: constructor.prototype', query: 'constructor[prototype][polluted]=1' },
    { name: 'query: only separators', query: '&&&=&=' },
    { name: 'query: huge', query: `zzz=${'a'.repeat(100_000)}` },
    { name: 'query: 1000 parameters', query: Array.from({ length: 1000 }, (_, i) => `p${i}=1`).join('&') },
  );
  return out;
}

/* ------------------------------------------------------------------------------------------------
 * Uploaded files
 * ---------------------------------------------------------------------------------------------- */

/** Deterministic bytes (a linear congruential generator), so a failure reproduces. */
function garbageBytes(length: number, seed = 7): Buffer {
  const out = Buffer.alloc(length);
  let state = seed;
  for (let i = 0; i < length; i++) {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    out[i] = state >> 16;
  }
  return out;
}

/** A multipart/form-data body with one text file. */
function multipartFile(content: Buffer | string, filename = 'targets.txt'): { headers: Record<string, string>; payload: Buffer } {
  const boundary = 'hostileBoundary7MA4YWxkTrZu0gW';
  const payload = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: text/plain\r\n\r\n`),
    Buffer.from(content),
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, payload };
}

/** Hostile target files: binary garbage, invalid UTF-8, a huge single line, too many lines, formulas, broken CSV, unicode tricks, odd multipart forms. */
export function hostileFiles(limits: { maxBytes: number; maxLines: number }): Array<{ name: string; headers: Record<string, string>; payload: string | Buffer }> {
  const text = (payload: string | Buffer, type = 'text/plain') => ({ headers: { 'content-type': type }, payload });
  const invalidUtf8 = Buffer.concat([Buffer.from([0xff, 0xfe, 0xc0, 0xaf, 0xed, 0xa0, 0x80]), Buffer.from('\n127.0.0.1\n')]);
  const formula = "=cmd|' /C calc'!A0";
  return [
    { name: 'binary garbage as text', ...text(garbageBytes(64 * 1024)) },
    { name: 'binary garbage as CSV', ...text(garbageBytes(64 * 1024), 'text/csv') },
    { name: 'binary garbage as octet-stream', ...text(garbageBytes(64 * 1024), 'application/octet-stream') },
    { name: 'binary garbage as a multipart file', ...multipartFile(garbageBytes(64 * 1024)) },
    { name: 'invalid UTF-8 as text', ...text(invalidUtf8) },
    { name: 'invalid UTF-8 as CSV', ...text(Buffer.concat([Buffer.from('target\n'), invalidUtf8]), 'text/csv') },
    { name: 'invalid UTF-8 as a multipart file', ...multipartFile(invalidUtf8) },
    { name: 'UTF-16 file', ...multipartFile(Buffer.from('\uFEFF127.0.0.1\n', 'utf16le')) },
    { name: 'huge single line', ...text('A'.repeat(limits.maxBytes - 1)) },
    { name: 'huge single line of a host name', ...text(`${'a.'.repeat((limits.maxBytes - 10) / 2)}test`) },
    { name: 'huge single CSV header', ...text(`target,${'x'.repeat(limits.maxBytes - 100)}`, 'text/csv') },
    { name: 'file over the byte limit', ...text('#'.repeat(limits.maxBytes + 1)) },
    { name: `${limits.maxLines + 1} lines`, ...text('x\n'.repeat(limits.maxLines + 1)) },
    { name: `${limits.maxLines + 1} JSON items`, ...text(JSON.stringify(Array.from({ length: limits.maxLines + 1 }, () => 0)), 'application/json') },
    { name: 'CSV formula as target', ...text(`target\n${formula}\n@SUM(A1)\n+1+1\n-2+3\n`, 'text/csv') },
    { name: 'text formula as target', ...text(`${formula}\n`) },
    { name: 'CSV with a formula column name', ...text(`target,${formula}\n127.0.0.1,x\n`, 'text/csv') },
    { name: 'CSV without a target column', ...text('host,owner\n127.0.0.1,alice\n', 'text/csv') },
    { name: 'CSV with a duplicate column', ...text('target,owner,owner\n127.0.0.1,a,b\n', 'text/csv') },
    { name: 'CSV with an unclosed quote', ...text('target,owner\n"127.0.0.1,alice\n', 'text/csv') },
    { name: 'CSV with a __proto__ column', ...text('target,__proto__\n127.0.0.1,x\n', 'text/csv') },
    { name: 'CSV with too many fields', ...text('target\n127.0.0.1,a,b,c\n', 'text/csv') },
    { name: 'CSV with a bad label value', ...text('target,owner\n127.0.0.1,a\u0007b\n', 'text/csv') },
    { name: 'JSON items of every wrong type', ...text('[null, 1, true, [], {}, {"target": 1}, {"target": "127.0.0.1", "labels": []}, {"target": "127.0.0.1", "extra": 1}, {"__proto__": {"polluted": true}}]', 'application/json') },
    { name: 'JSON content of the wrong type', ...text('{"content": 1, "format": "csv"}', 'application/json') },
    { name: 'JSON content with an unknown format', ...text('{"content": "127.0.0.1", "format": "xlsx"}', 'application/json') },
    { name: 'JSON content with an extra field', ...text('{"content": "127.0.0.1", "extra": true}', 'application/json') },
    { name: 'JSON object without content', ...text('{"targets": ["127.0.0.1"]}', 'application/json') },
    { name: 'empty JSON array', ...text('[]', 'application/json') },
    { name: 'JSON nested 10k deep', ...text(`${'['.repeat(10_000)}${']'.repeat(10_000)}`, 'application/json') },
    { name: 'JSON __proto__ object', ...text('{"__proto__": {"polluted": true}}', 'application/json') },
    { name: 'empty text file', ...text('') },
    { name: 'only comments and blank lines', ...text('# nothing\n\n   \n# here\n') },
    { name: 'out-of-scope targets only', ...text('169.254.169.254\n0.0.0.0\n224.0.0.1\nmetadata.google.internal\n') },
    // One per line; NUL (a binary file) and line breaks have files of their own.
    { name: 'unicode trick targets', ...text(`${HOSTILE_STRINGS.filter((s) => s.name !== 'huge 100k' && !/[\u0000\r\n]/.test(s.value)).map((s) => s.value.replace(/\s/g, '_') || '_').join('\n')}\n`) },
    { name: 'multipart with two files', headers: { 'content-type': 'multipart/form-data; boundary=b' }, payload: '--b\r\nContent-Disposition: form-data; name="a"; filename="a.txt"\r\n\r\nx\r\n--b\r\nContent-Disposition: form-data; name="b"; filename="b.txt"\r\n\r\ny\r\n--b--\r\n' },
    { name: 'multipart with a field and no file', headers: { 'content-type': 'multipart/form-data; boundary=b' }, payload: '--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n127.0.0.1\r\n--b--\r\n' },
    { name: 'multipart file named by traversal', ...multipartFile('not a target\n', '../../etc/passwd') },
    { name: 'multipart file over the byte limit', ...multipartFile(Buffer.alloc(limits.maxBytes + 1, 0x23)) },
  ];
}
