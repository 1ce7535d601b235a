import { hubAcceptance } from './acceptance.ts';

hubAcceptance('sqlite', async () => undefined);
