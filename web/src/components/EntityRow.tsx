import { ago, formatValue, shortName } from '../format.js';
import { canCommand } from '../roles.js';
import { paths } from '../routes.js';
import type { Shown } from '../status.js';
import type { Entity, Role } from '../types.js';
import { Badge } from './Badge.js';
import { Command, isCommandable } from './Command.js';
import { Link } from './Link.js';

export function valueText(entity: Entity, shown: Shown): string {
  if (shown.kind === 'unavailable') return 'unavailable';
  // a button has no state to show; anything else whose state nobody knows says so, never "Off"
  if (shown.kind === 'unknown') return entity.platform === 'button' ? '' : 'unknown';
  return formatValue(entity, shown.value);
}

/** One entity: its name (a link to its history), value, freshness and, for operators, its controls. */
export function EntityRow({
  entity,
  shown,
  deviceName,
  role,
  now,
}: {
  entity: Entity;
  shown: Shown;
  deviceName?: string | undefined;
  role: Role;
  now: number;
}) {
  return (
    <li
      class={`entity ${shown.kind}${shown.kind === 'value' && shown.stale ? ' stale' : ''}`}
      aria-label={entity.name}
      data-entity-id={entity.id}
    >
      <div class="entity-head">
        <Link class="entity-name" to={paths.history(entity.id)}>
          {shortName(entity.name, deviceName)}
        </Link>
        {shown.kind === 'unavailable' ? (
          <Badge tone="bad">Unavailable</Badge>
        ) : (
          <span class="entity-value">{valueText(entity, shown)}</span>
        )}
      </div>
      <div class="entity-meta">
        {shown.kind === 'value' && shown.stale && (
          <Badge tone="warn" title="No new reading for much longer than usual">
            Stale
          </Badge>
        )}
        {shown.kind === 'value' && <span class="muted">updated {ago(shown.ts, now)}</span>}
      </div>
      {canCommand(role) && isCommandable(entity) && <Command entity={entity} shown={shown} role={role} />}
    </li>
  );
}
