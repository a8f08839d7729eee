// CommonJS TypeScript (format commonjs-typescript): types stripped by Node, lines kept.
type Pair<T> = readonly [T, T]

interface Counter {
  count: number
  bump(by?: number): number
}

const makeCounter = (start: number): Counter => ({
  count: start,
  bump(by = 1) {
    this.count += by // @hits 3
    return this.count
  }
})

function swap<T>(pair: Pair<T>): Pair<T> {
  const [a, b] = pair
  return [b, a] as const
}

exports.main = function main(log: (...args: Array<unknown>) => void): void {
  const counter = makeCounter(10)
  counter.bump()
  counter.bump(5)
  log(counter.bump(), swap<string>(["x", "y"]))
}
