// The household web app: one store fed by the live feed, pages that render it.
import './app.css';
import 'uplot/dist/uPlot.min.css';
import { render } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { boot, session } from './app.js';
import { Layout } from './components/Layout.js';
import { useStore } from './hooks.js';
import { AddDevice } from './pages/AddDevice.js';
import { Audit } from './pages/Audit.js';
import { Ble } from './pages/Ble.js';
import { Cluster } from './pages/Cluster.js';
import { Dashboard } from './pages/Dashboard.js';
import { Device } from './pages/Device.js';
import { History } from './pages/History.js';
import { Login } from './pages/Login.js';
import { NotFound } from './pages/NotFound.js';
import { Onboarding } from './pages/Onboarding.js';
import { Updates } from './pages/Updates.js';
import { Users } from './pages/Users.js';
import { route as routeStore } from './router.js';
import type { Route } from './routes.js';

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'dashboard':
      return <Dashboard />;
    case 'device':
      return <Device id={route.id} />;
    case 'history':
      return <History id={route.id} range={route.range} />;
    case 'add-device':
      return <AddDevice />;
    case 'ble':
      return <Ble />;
    case 'cluster':
      return <Cluster />;
    case 'updates':
      return <Updates />;
    case 'users':
      return <Users />;
    case 'audit':
      return <Audit />;
    case 'login':
    case 'onboarding':
    case 'not-found':
      return <NotFound path={route.page === 'not-found' ? route.path : `/${route.page}`} />;
  }
}

function App() {
  const route = useStore(routeStore);
  const s = useStore(session);
  const moved = useRef(false);

  // after moving to another page, the focus goes to its heading (as a page load would reset it)
  useEffect(() => {
    if (!moved.current) {
      moved.current = true;
      return;
    }
    document.querySelector<HTMLElement>('main h1')?.focus({ preventScroll: true });
  }, [route.page]);

  if (route.page === 'login')
    return (
      <main id="main" class="bare">
        <Login next={route.next} />
      </main>
    );
  if (route.page === 'onboarding')
    return (
      <main id="main" class="bare">
        <Onboarding />
      </main>
    );
  if (s === undefined)
    return (
      <main id="main" class="bare">
        <p role="status">Loading…</p>
      </main>
    );
  if (s === null)
    return (
      <main id="main" class="bare">
        <div class="narrow">
          <h1 tabIndex={-1}>The gateway is not answering</h1>
          <p>It may be restarting. This page tries again when you press the button.</p>
          <button type="button" class="primary" onClick={() => boot()}>
            Try again
          </button>
        </div>
      </main>
    );
  return (
    <Layout route={route}>
      <Page route={route} />
    </Layout>
  );
}

const root = document.getElementById('app');
if (root) {
  render(<App />, root);
  void boot();
}
