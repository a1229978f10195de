import type { ComponentChildren } from 'preact';
import { navigate } from '../router.js';

interface Props {
  to: string;
  class?: string;
  children: ComponentChildren;
  'aria-label'?: string;
  current?: boolean;
}

/** An ordinary link that changes the page without a reload (modifier keys still open a new tab). */
export function Link({ to, children, current, ...rest }: Props) {
  return (
    <a
      href={to}
      aria-current={current ? 'page' : undefined}
      onClick={(event) => {
        if (event.defaultPrevented || event.button !== 0) return;
        if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
        event.preventDefault();
        navigate(to);
      }}
      {...rest}
    >
      {children}
    </a>
  );
}
