// Derived constructors: nothing may touch `this` before super(); fields, TDZ and new.target behave.
class Base {
  constructor(name) {
    this.name = name
    this.kind = new.target.name
  }
}

class Derived extends Base {
  label = `${this.name}!`
  getLabel = () => this.label
  constructor(name, fail) {
    if (fail) {
      this.name = "too early"
    }
    const prefix = "d-"
    super(prefix + name)
    this.after = this.label.length
  }
}

class NoSuper extends Base {
  constructor() {
    return { replaced: true }
  }
}

class Forgetful extends Base {
  constructor() {
    const x = 1
  }
}

function targetOf() {
  return new.target === undefined ? "call" : "new"
}

exports.main = function main(log) {
  const derived = new Derived("x", false)
  log(derived.name, derived.kind, derived.label, derived.getLabel(), derived.after)
  try {
    new Derived("y", true)
  } catch (error) {
    log(error.constructor.name, error.message)
  }
  log(new NoSuper())
  try {
    new Forgetful()
  } catch (error) {
    log(error.constructor.name, error.message)
  }
  log(targetOf(), new targetOf() instanceof targetOf)
}
