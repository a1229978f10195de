import { get } from '../api.js';
import { session } from '../app.js';
import { Badge } from '../components/Badge.js';
import { describe } from '../errors.js';
import { duration } from '../format.js';
import { usePoll, useStore, useTitle } from '../hooks.js';

interface Status {
  node_id: string;
  devices?: number;
  devices_online?: number;
  entities?: number;
  leaders?: Record<string, { node_id: string; renewed?: number } | null>;
  leading?: string[];
  nodes?: { node_id: string; alive: boolean; last_heard_ms: number }[];
}

export function Cluster() {
  useTitle('Cluster');
  const role = useStore(session)?.role;
  const { data, error } = usePoll(() => get<Status>('/api/status'), 10_000);
  return (
    <>
      <h1 tabIndex={-1}>Cluster</h1>
      {error !== undefined && (
        <p class="notice error" role="alert">
          {describe(error, role, 'see the cluster')}
        </p>
      )}
      {data && (
        <div class="grid">
          <section class="card" aria-labelledby="this-node">
            <h2 id="this-node">This gateway</h2>
            <dl class="facts">
              <dt>Node</dt>
              <dd>{data.node_id}</dd>
              {data.devices !== undefined && (
                <>
                  <dt>Devices</dt>
                  <dd>
                    {data.devices_online ?? '?'} of {data.devices} online
                  </dd>
                </>
              )}
              {data.entities !== undefined && (
                <>
                  <dt>Entities</dt>
                  <dd>{data.entities}</dd>
                </>
              )}
            </dl>
          </section>
          <section class="card" aria-labelledby="leaders">
            <h2 id="leaders">Leaders</h2>
            {data.leaders && Object.keys(data.leaders).length > 0 ? (
              <table>
                <thead>
                  <tr>
                    <th scope="col">Task</th>
                    <th scope="col">Led by</th>
                  </tr>
                </thead>
                <tbody>
                  {Object.entries(data.leaders)
                    .sort(([a], [b]) => a.localeCompare(b))
                    .map(([subsystem, leader]) => (
                      <tr key={subsystem}>
                        <td>{subsystem}</td>
                        <td>
                          {leader ? (
                            <>
                              {leader.node_id}
                              {leader.node_id === data.node_id ? ' (this node)' : ''}
                            </>
                          ) : (
                            <Badge tone="warn">Nobody: electing</Badge>
                          )}
                        </td>
                      </tr>
                    ))}
                </tbody>
              </table>
            ) : (
              <p class="muted">This gateway runs alone: it leads everything.</p>
            )}
          </section>
          <section class="card" aria-labelledby="nodes">
            <h2 id="nodes">Nodes</h2>
            {data.nodes && data.nodes.length > 0 ? (
              <ul class="plain">
                {data.nodes.map((n) => (
                  <li key={n.node_id} class="row-between">
                    <span>
                      {n.node_id}
                      {n.node_id === data.node_id ? ' (this node)' : ''}
                    </span>
                    <span>
                      {n.alive ? <Badge tone="ok">Alive</Badge> : <Badge tone="bad">Gone</Badge>}{' '}
                      <span class="muted">heard {duration(n.last_heard_ms / 1000)} ago</span>
                    </span>
                  </li>
                ))}
              </ul>
            ) : (
              <p class="muted">No other node has been heard.</p>
            )}
          </section>
        </div>
      )}
    </>
  );
}
