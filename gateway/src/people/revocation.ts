// What the HTTP layer hears when a session or an API token stops being valid
// (logged out, revoked, expired, user removed — on this node or another), so it
// can close the WebSockets opened with it at once.
export interface RevokedEvent {
  kind: 'session' | 'token';
  /** a session's id (SHA-256 of its token, `SessionStore.idOf`) or a token's name */
  id: string;
  /** the user of a session */
  user?: string;
}

export type RevokedListener = (event: RevokedEvent) => void;

/** A small set of listeners; one that throws does not keep the others from hearing. */
export class RevokedListeners {
  readonly #listeners = new Set<RevokedListener>();

  add(listener: RevokedListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(event: RevokedEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // a listener's own failure is its business; the revocation stands
      }
    }
  }
}
