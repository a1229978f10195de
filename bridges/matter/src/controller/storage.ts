// The storage boundary of the controller: where matter.js keeps fabric keys, node ids and
// the cached node structure. A directory today; a NATS KV bucket later, so another
// gateway node can take the controller over. Either one only installs a matter.js
// StorageService into the node's environment.
import {
  type Environment,
  Filesystem,
  MemoryStorageDriver,
  StorageService,
  WalStorageDriver,
} from '@matter/main';
import { NodeJsFilesystem } from '@matter/nodejs';

export interface NodeStorage {
  /** a short description for logs */
  readonly description: string;
  install(env: Environment): void;
  /** resolves once everything written so far is durable (storages that write behind) */
  flush?(): Promise<void>;
}

export function memoryStorage(): NodeStorage {
  return {
    description: 'memory',
    install(env) {
      const service = new StorageService(env);
      service.registerDriver(MemoryStorageDriver);
      service.defaultDriver = MemoryStorageDriver.id;
      env.set(StorageService, service);
    },
  };
}

/** matter.js's write-ahead-log driver in `dir` (one subdirectory per node id). */
export function directoryStorage(dir: string): NodeStorage {
  return {
    description: `directory ${dir}`,
    install(env) {
      env.set(Filesystem, new NodeJsFilesystem(dir));
      const service = new StorageService(env);
      service.registerDriver(WalStorageDriver);
      service.defaultDriver = WalStorageDriver.id;
      env.set(StorageService, service);
    },
  };
}
