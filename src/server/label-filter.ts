/**
 * Label filters in query strings, as the targets list and the reports read them:
 * `?label.owner=alice&labels=team:web,env:prod` → {owner: 'alice', team: 'web', env: 'prod'}. Keys and
 * values are checked like stored labels, so a filter can only name a label that could exist.
 */
import type { LabelFilter } from '../monitor/model.js';
import { validateLabels } from '../monitor/target-import.js';
import { PortcullisError } from '../shared/errors.js';

const LABEL_PARAM = /^label\.(.+)$/;

export function labelFilter(query: Record<string, unknown>): LabelFilter {
  const filter: LabelFilter = {};
  const add = (key: string, value: string, field: string): void => {
    const valid = validateLabels({ [key]: value });
    if (valid instanceof PortcullisError) throw new PortcullisError('request.invalid', `${field}: ${valid.message}`, { field });
    filter[key] = value;
  };
  const list = query.labels;
  if (typeof list === 'string' && list !== '') {
    for (const pair of list.split(',')) {
      const colon = pair.indexOf(':');
      if (colon <= 0) throw new PortcullisError('request.invalid', `labels: "${pair}" is not name:value; write labels=owner:alice,team:web`, { field: 'labels', value: list });
      add(pair.slice(0, colon).trim(), pair.slice(colon + 1).trim(), 'labels');
    }
  }
  // `label.<key>` is the more specific form: it wins over the same key in `labels`.
  for (const [param, value] of Object.entries(query)) {
    const key = LABEL_PARAM.exec(param)?.[1];
    if (key !== undefined) add(key, String(value), param);
  }
  return filter;
}
