// A small client for the 暖城之邀 API, written against the types that
// openapi-typescript generates from the server's OpenAPI document
// (`nuancheng openapi`). check.sh regenerates schema.d.ts and type-checks this
// file, so a renamed route, field or media type in the API breaks the build
// here before it breaks a frontend.
//
// It shows: a student signs up, finds an event (query parameters), registers
// with an Idempotency-Key (a retry gets the first answer back), staff scan the
// ticket at the door, and a client reads the stable `code` of an error
// (application/problem+json).

import type { components, paths } from "./schema";

type Schemas = components["schemas"];

/** The body of every error response (RFC 9457 problem+json). */
export type Problem = Schemas["Problem"];

type Signup = paths["/api/v1/auth/signup"]["post"];
type SearchEvents = paths["/api/v1/events"]["get"];
type Login = paths["/api/v1/auth/login"]["post"];
type Register = paths["/api/v1/events/{id}/registrations"]["post"];
type CheckIn = paths["/api/v1/events/{id}/checkins"]["post"];
type PrivacyNotice = paths["/api/v1/privacy/notice"]["get"];

export type SignupRequest = Signup["requestBody"]["content"]["application/json"];
export type Notice = PrivacyNotice["responses"][200]["content"]["application/json"];
export type Session = Signup["responses"][201]["content"]["application/json"];
export type LoginRequest = Login["requestBody"]["content"]["application/json"];
export type EventQuery = NonNullable<SearchEvents["parameters"]["query"]>;
export type EventPage = SearchEvents["responses"][200]["content"]["application/json"];
export type RegisterRequest = NonNullable<
  NonNullable<Register["requestBody"]>["content"]["application/json"]
>;
export type Registration = Register["responses"][201]["content"]["application/json"];
type RegisterHeaders = NonNullable<Register["parameters"]["header"]>;
export type CheckinRequest = CheckIn["requestBody"]["content"]["application/json"];
export type CheckinAnswer = CheckIn["responses"][201]["content"]["application/json"];

/** Register's 409 `already_registered`, documented as problem+json. */
type AlreadyRegistered = Register["responses"][409]["content"]["application/problem+json"];

/** Thrown for every 4xx and 5xx answer that carries a problem. */
export class ProblemError extends Error {
  constructor(readonly problem: Problem) {
    super(`${problem.status} ${problem.code}: ${problem.detail ?? problem.title}`);
  }

  /** The stable, machine-readable reason, e.g. `already_registered`. */
  get code(): string {
    return this.problem.code;
  }
}

/** The `code` of an API error, or undefined for any other failure. */
export function problemCode(error: unknown): string | undefined {
  return error instanceof ProblemError ? error.code : undefined;
}

export class Client {
  constructor(
    readonly baseUrl: string,
    private token?: string,
  ) {}

  /** Only paths that the OpenAPI document has are accepted. */
  private url(path: keyof paths, id?: string): string {
    return this.baseUrl + (id === undefined ? path : path.replace("{id}", encodeURIComponent(id)));
  }

  private async send<T>(
    method: "GET" | "POST",
    url: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: T; headers: Headers }> {
    const init: RequestInit = {
      method,
      headers: {
        Accept: "application/json",
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        ...(this.token ? { Authorization: `Bearer ${this.token}` } : {}),
        ...headers,
      },
    };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    if (!response.ok) {
      const type = response.headers.get("Content-Type") ?? "";
      if (type.startsWith("application/problem+json")) {
        throw new ProblemError((await response.json()) as Problem);
      }
      throw new Error(`${method} ${url}: ${response.status} ${await response.text()}`);
    }
    return { status: response.status, body: (await response.json()) as T, headers: response.headers };
  }

  /** A new student account; the client keeps its access token. */
  /** The privacy notice in force; a signup sends the version it showed. */
  async notice(): Promise<Notice> {
    return (await this.send<Notice>("GET", this.url("/api/v1/privacy/notice"))).body;
  }

  async signup(request: SignupRequest): Promise<Session> {
    const { body } = await this.send<Session>("POST", this.url("/api/v1/auth/signup"), request);
    this.token = body.access_token;
    return body;
  }

  async login(request: LoginRequest): Promise<Session> {
    const { body } = await this.send<Session>("POST", this.url("/api/v1/auth/login"), request);
    this.token = body.access_token;
    return body;
  }

  /** Published events, soonest first, filtered by the query string. */
  async searchEvents(query: EventQuery = {}): Promise<EventPage> {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) {
      if (value !== null && value !== undefined) {
        search.set(name, String(value));
      }
    }
    const url = `${this.url("/api/v1/events")}?${search}`;
    return (await this.send<EventPage>("GET", url)).body;
  }

  /**
   * Registers the signed-in student. Make `idempotencyKey` once per press of
   * the button and send it again on a retry: the server then answers with the
   * first registration (`replayed`) instead of refusing a second one.
   */
  async register(
    eventId: string,
    idempotencyKey: string,
    request: RegisterRequest = {},
  ): Promise<{ registration: Registration; replayed: boolean }> {
    const headers = { "Idempotency-Key": idempotencyKey } satisfies RegisterHeaders;
    const answer = await this.send<Registration>(
      "POST",
      this.url("/api/v1/events/{id}/registrations", eventId),
      request,
      headers,
    );
    return {
      registration: answer.body,
      replayed: answer.headers.get("Idempotency-Replayed") === "true",
    };
  }

  /** A scan at the door (staff): `firstScan` is false for a ticket already in. */
  async scan(
    eventId: string,
    request: CheckinRequest,
  ): Promise<{ firstScan: boolean; answer: CheckinAnswer }> {
    const { status, body } = await this.send<CheckinAnswer>(
      "POST",
      this.url("/api/v1/events/{id}/checkins", eventId),
      request,
    );
    return { firstScan: status === 201, answer: body };
  }
}

/**
 * The whole path once, against a running server with a published event that
 * is open for registration, given the credentials of an organiser
 * (`nuancheng seed-demo` prints some).
 */
export async function demo(options: {
  baseUrl: string;
  staff: LoginRequest;
  log?: (line: string) => void;
}): Promise<void> {
  const log = options.log ?? console.log;
  const student = new Client(options.baseUrl);
  const signup: SignupRequest = {
    email: `student-${crypto.randomUUID().slice(0, 8)}@pku.edu.cn`,
    password: "correct horse battery staple 42",
    full_name: "李雷",
    university: "北京大学",
    major: "化学工程",
    degree: "master",
    graduation_year: 2027,
    privacy_notice_version: (await student.notice()).version,
    share_contacts: true,
  };
  const session = await student.signup(signup);
  log(`signed up ${session.user.email} as ${session.user.role}`);
  try {
    await new Client(options.baseUrl).signup(signup);
  } catch (error) {
    log(`the same signup again: ${problemCode(error)}`); // email_taken
  }

  const now = new Date().toISOString();
  const { items } = await student.searchEvents({ university: "北京大学", from: now, limit: 20 });
  const open = (e: Schemas["EventView"]) =>
    Date.parse(e.registration_closes_at ?? e.starts_at) > Date.now();
  const event = items.find((e) => e.seats_left > 0 && open(e));
  if (!event) {
    log("no event at 北京大学 with seats left");
    return;
  }
  log(`registering for ${event.title} (${event.seats_left} seats left)`);

  const key = crypto.randomUUID();
  const first = await student.register(event.id, key);
  const retry = await student.register(event.id, key);
  log(
    `registration ${first.registration.id} is ${first.registration.status}; ` +
      `the retry got ${retry.registration.id === first.registration.id ? "the same one" : "another one"} ` +
      `(replayed: ${retry.replayed})`,
  );

  try {
    await student.register(event.id, crypto.randomUUID());
  } catch (error) {
    if (error instanceof ProblemError && error.code === "already_registered") {
      const problem: AlreadyRegistered = error.problem;
      log(`a new key for the same event: ${problem.code}, existing ${String(problem.existing?.["id"])}`);
    } else {
      throw error;
    }
  }

  const ticket = first.registration.ticket_code;
  if (!ticket) {
    log(`no ticket while ${first.registration.status}`);
    return;
  }
  const door = new Client(options.baseUrl);
  await door.login(options.staff);
  const scanned = await door.scan(event.id, { ticket_code: ticket, gate: "东门" });
  const again = await door.scan(event.id, { ticket_code: ticket, gate: "东门" });
  log(
    `scan: ${scanned.answer.result} (${scanned.answer.candidate.full_name}, ${scanned.answer.candidate.university}); ` +
      `again: ${again.answer.result}, first scan ${again.firstScan}`,
  );
  try {
    await door.scan(event.id, { ticket_code: "NOT-A-TICKET" });
  } catch (error) {
    log(`unknown ticket: ${problemCode(error)}`); // unknown_ticket
  }
}
