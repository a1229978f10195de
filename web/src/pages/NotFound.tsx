import { Link } from '../components/Link.js';
import { useTitle } from '../hooks.js';
import { paths } from '../routes.js';

export function NotFound({ path }: { path: string }) {
  useTitle('Not found');
  return (
    <>
      <h1 tabIndex={-1}>Nothing here</h1>
      <p>
        There is no page <code>{path}</code>. <Link to={paths.dashboard()}>Go home</Link>
      </p>
    </>
  );
}
