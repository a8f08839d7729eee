"use strict"
// super in methods and arrows, this/arguments/new.target seen through arrows, parameter scopes.
class Animal {
  constructor(name) {
    this.name = name
  }
  speak() {
    return `${this.name} makes a sound`
  }
  static create(name) {
    return new this(name)
  }
  get description() {
    return `animal ${this.name}`
  }
}

class Dog extends Animal {
  speak() {
    const parent = () => super.speak()
    return `${parent()} (woof)`
  }
  static create(name) {
    return super.create(`dog ${name}`)
  }
  get description() {
    return super.description.toUpperCase()
  }
  async later() {
    await null
    return super.speak()
  }
  static async *names(...list) {
    for (const item of list) yield await item
  }
}

const proto = { greet() { return "proto greet" } }
const child = {
  __proto__: proto,
  greet() {
    return `child + ${super.greet()}`
  }
}

function outer() {
  const seen = () => [this === undefined, arguments.length, new.target === undefined]
  return seen()
}

function Constructed() {
  const target = () => new.target === Constructed
  this.isNew = target()
}

function params(a, b = () => a, c = b()) {
  var a = "shadowed"
  return [a, b(), c]
}

function counter() {
  let count = 0
  return { increment: () => ++count, read() { return count } }
}

exports.main = async function main(log) {
  const dog = Dog.create("rex")
  log(dog.speak(), dog.description, await dog.later())
  const names = []
  for await (const name of Dog.names(Promise.resolve("a"), "b")) names.push(name)
  log(names, child.greet(), outer(1, 2), new Constructed().isNew)
  log(params("original"), params("x", () => "given"))
  const c = counter()
  c.increment()
  c.increment()
  log(c.read())
}
