/**
 * The seed workload (the line_profiler article's example): `child` takes a
 * square root and cubes it. Kept in its own module so that pool workers can
 * load it without running any example's top level.
 */

export function power3(num: number): number {
  return num * num * num
}

export function child(num: number): number {
  num = Math.sqrt(num)
  num = power3(num)
  return num
}
