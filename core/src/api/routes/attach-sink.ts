import type { Duplex } from 'node:stream';
import type { OutputSink } from '../../containers/container-service.js';
import type { ContainerRecord } from '../../containers/container-types.js';
import { boolParam } from '../query.js';
import { encodeEntry } from '../stdcopy.js';

/** Writes a container's output to a hijacked (or raw 200) socket, honouring stdout/stderr selection. */
export function attachSink(socket: Duplex, c: ContainerRecord, query: URLSearchParams): OutputSink {
  const wantOut = boolParam(query.get('stdout') ?? undefined);
  const wantErr = boolParam(query.get('stderr') ?? undefined);
  const tty = c.Config.Tty;
  return {
    write(entry) {
      if (socket.destroyed) return;
      if (entry.stream === 'stdout' ? !wantOut : !wantErr) return;
      socket.write(encodeEntry(entry, { tty, timestamps: false }));
    },
    end() {
      if (!socket.destroyed) socket.end();
    },
  };
}
