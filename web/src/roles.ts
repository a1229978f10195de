// Who may do what (docs/http-api.md "Who may do what"), to hide controls a role cannot use. Pure.

import type { Role } from './types.js';

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export const canCommand = (role: Role | undefined) => role !== undefined && RANK[role] >= RANK.operator;
export const canManage = (role: Role | undefined) => role === 'admin';

export const ROLES: Role[] = ['viewer', 'operator', 'admin'];
