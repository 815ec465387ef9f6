// pino logger with secrets redacted wherever they might appear.
import { pino, type Logger } from 'pino';

const SECRET_KEYS = ['password', 'otp', 'token', 'authorization', 'idNumber', 'totpSecret', 'password_hash', 'totp_secret', 'secret'];

export function createLogger(level = 'info', destination?: pino.DestinationStream): Logger {
  const paths = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `req.headers.${k}`]);
  return pino({ level, base: { module: 'gateway' }, redact: { paths, censor: '[redacted]' } }, destination);
}
