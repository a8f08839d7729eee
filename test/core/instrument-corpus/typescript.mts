// TypeScript: type-only syntax parses and is stripped by Node; lines stay those of the .mts file.
interface Point {
  readonly x: number
  readonly y: number
}

type Shape = { kind: "circle"; radius: number } | { kind: "square"; side: number }

declare const declaredOnly: number

function area(shape: Shape): number {
  switch (shape.kind) {
    case "circle":
      return Math.PI * shape.radius ** 2 // @hits 1
    case "square":
      return shape.side ** 2 // @hits 2
  }
}

function overloaded(x: string): string
function overloaded(x: number): number
function overloaded(x: string | number): string | number {
  return x // @hits 2
}

abstract class Base<T> {
  abstract describe(): string
  protected value: T
  constructor(value: T) {
    this.value = value
  }
}

class Labeled extends Base<Point> {
  describe(): string {
    const { x, y } = this.value as Point
    return `(${x}, ${y})`
  }
}

const identity = <T,>(value: T): T => value
const sum = (points: ReadonlyArray<Point>): number => points.reduce((total, p) => total + p.x + p.y, 0)

export async function main(log: (...args: Array<unknown>) => void): Promise<number> {
  const shapes = [{ kind: "circle", radius: 1 }, { kind: "square", side: 2 }, { kind: "square", side: 3 }] satisfies Array<Shape>
  log(shapes.map(area).map((n) => n.toFixed(2)))
  log(overloaded("a"), overloaded(1), identity<string>("id"))
  log(new Labeled({ x: 1, y: 2 }).describe(), sum([{ x: 1, y: 1 }]))
  const maybe: Point | undefined = { x: 3, y: 4 }
  return maybe!.x
}
