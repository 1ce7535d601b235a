export { LinkServer, grpcCodeFor, type LinkServerOptions } from './server.ts';
export { SessionRegistry, type Session } from './sessions.ts';
