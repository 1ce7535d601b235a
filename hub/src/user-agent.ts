import { releaseVersion } from '@driftless/common';

/** The User-Agent of the hub's own requests (notifications, commit statuses), so receivers' logs name it. */
export const HUB_USER_AGENT = `driftless-hub/${releaseVersion()}`;
