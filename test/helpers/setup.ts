// Shared test setup: no test reaches the network; every HTTP call must be mocked with nock.
import nock from "nock";
import { afterEach, beforeAll } from "vitest";

beforeAll(() => {
  nock.disableNetConnect();
  // Servers started by tests listen on loopback only.
  nock.enableNetConnect(/^(127\.0\.0\.1|localhost)(:\d+)?$/);
});

afterEach(() => {
  nock.cleanAll();
});
