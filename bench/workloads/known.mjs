// Lines that spin for known durations, and a line that calls a profiled function.
import { spinNs } from "./spin.mjs"

export function callee() {
  spinNs(20000)
}

export function known() {
  spinNs(2000)
  spinNs(20000)
  spinNs(200000)
  callee()
}
