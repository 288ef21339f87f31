/** The `protocol` suite: wire-level contract of any plugin (protocol.md §1-2). */
import type { Suite } from '../types.js';
import { driverErrorField, errorReplies, errorStatusCompat, ipamErrorField, unknownMethod404 } from './error-checks.js';
import { activateHandshake, addressSpaces, dockerdFraming, ipamCapabilities, networkCapabilities } from './handshake-checks.js';
import { concurrentConnections, emptyBody, malformedJson, replyJson, survivesBadInput, timelyReplies, wrongTypedFields } from './robustness-checks.js';

export const protocolSuite: Suite = {
  id: 'protocol',
  title: 'Wire protocol',
  checks: [
    activateHandshake,
    networkCapabilities,
    ipamCapabilities,
    addressSpaces,
    dockerdFraming,
    replyJson,
    timelyReplies,
    concurrentConnections,
    errorReplies,
    ipamErrorField,
    driverErrorField,
    unknownMethod404,
    errorStatusCompat,
    malformedJson,
    wrongTypedFields,
    emptyBody,
    // Last: it sends the nastiest input and may take a fragile plugin down.
    survivesBadInput,
  ],
};
