// Every function form: results, `.length`, `.name` and `this` are unchanged.
function declared(a, b = 2, ...rest) {
  return [a, b, rest.length, arguments.length]
}
const expressed = function (a) { return a * 2 }
const named = function inner(n) { return n <= 1 ? 1 : n * inner(n - 1) }
const arrow = (a, b) => a + b
const arrowBlock = (a) => {
  const doubled = a * 2
  return doubled
}
const objectArrow = () => ({ answer: 42 })
const multiLineArrow = (x) =>
  x * 3

class Shape {
  static count = 0
  static {
    Shape.count = 10
  }
  #secret = () => "hidden"
  area = () => this.width * this.height
  constructor(width, height) {
    this.width = width
    this.height = height
    Shape.count++
  }
  get size() {
    return this.width + this.height
  }
  set size(value) {
    this.width = value
  }
  static make() { return new Shape(1, 2) }
  reveal() { return this.#secret() }
  *[Symbol.iterator]() {
    yield this.width
    yield this.height
  }
}

const object = {
  value: 5,
  method() { return this.value },
  get twice() { return this.value * 2 },
  set twice(v) { this.value = v / 2 },
  nested: { deep() { return "deep" } },
  ["comp" + "uted"]() { return "computed" }
}

exports.main = function main(log) {
  log(declared(1), declared(1, 3, 4, 5), declared.length, declared.name)
  log(expressed(4), expressed.name, named(5), named.name, arrow(2, 3), arrow.length, arrow.name)
  log(arrowBlock(4), objectArrow(), multiLineArrow(2))
  const shape = new Shape(3, 4)
  log(shape.area(), shape.size, Shape.count, shape.reveal(), [...shape])
  shape.size = 10
  log(shape.width, Shape.make().size, Shape.name, Shape.length)
  log(object.method(), object.twice, object.nested.deep(), object.computed())
  object.twice = 40
  log(object.value, Object.getOwnPropertyDescriptor(object, "twice").get.name)
  return shape
}
