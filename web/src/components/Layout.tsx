import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { live, logout, session } from '../app.js';
import { useStore } from '../hooks.js';
import { canManage } from '../roles.js';
import { paths, type Route } from '../routes.js';
import { Link } from './Link.js';

const NAV: { to: string; label: string; pages: Route['page'][]; admin?: boolean }[] = [
  { to: paths.dashboard(), label: 'Home', pages: ['dashboard', 'device', 'history'] },
  { to: paths.addDevice(), label: 'Add a device', pages: ['add-device'], admin: true },
  { to: paths.ble(), label: 'Bluetooth', pages: ['ble'] },
  { to: paths.cluster(), label: 'Cluster', pages: ['cluster'] },
  { to: paths.updates(), label: 'Updates', pages: ['updates'] },
  { to: paths.users(), label: 'Users and tokens', pages: ['users'], admin: true },
  { to: paths.audit(), label: 'Audit log', pages: ['audit'], admin: true },
];

function UserMenu() {
  const s = useStore(session);
  const [open, setOpen] = useState(false);
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    const away = (event: Event) => {
      if (!box.current?.contains(event.target as Node)) setOpen(false);
    };
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape') setOpen(false);
    };
    document.addEventListener('pointerdown', away);
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('pointerdown', away);
      document.removeEventListener('keydown', onKey);
    };
  }, [open]);
  if (!s) return null;
  const who = s.user ?? s.token ?? 'token';
  return (
    <div class="user-menu" ref={box}>
      <button
        type="button"
        class="quiet"
        aria-expanded={open}
        aria-controls="user-menu"
        onClick={() => setOpen(!open)}
      >
        {who} <span class="muted">({s.role})</span>
      </button>
      {open && (
        <div id="user-menu" class="menu">
          <p class="muted">
            Logged in as {who}, role {s.role}.
          </p>
          <button type="button" onClick={() => logout()}>
            Log out
          </button>
        </div>
      )}
    </div>
  );
}

export function Layout({ route, children }: { route: Route; children: ComponentChildren }) {
  const s = useStore(session);
  const connection = useStore(live).connection;
  const [menu, setMenu] = useState(false);
  useEffect(() => setMenu(false), [route]);
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <Link class="brand" to={paths.dashboard()}>
          Sentinel Edge
        </Link>
        <button
          type="button"
          class="quiet nav-toggle"
          aria-expanded={menu}
          aria-controls="nav"
          onClick={() => setMenu(!menu)}
        >
          Menu
        </button>
        <nav id="nav" aria-label="Main" class={menu ? 'open' : undefined}>
          <ul>
            {NAV.filter((item) => !item.admin || canManage(s?.role)).map((item) => (
              <li key={item.to}>
                <Link to={item.to} current={item.pages.includes(route.page)}>
                  {item.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <UserMenu />
      </header>
      {connection === 'reconnecting' && (
        <p class="banner" role="status">
          Reconnecting… the values shown are the last ones received.
        </p>
      )}
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}
