// The logger every module takes: pino's shape (Probot's `app.log`), `(obj, msg)` or `(msg)`.
export interface Logger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}
