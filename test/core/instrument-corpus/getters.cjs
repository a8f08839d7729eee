// A lazy getter replaces itself with a data property on first read.
const lazy = {
  get value() {
    log("computing")
    Object.defineProperty(this, "value", { value: 42, writable: false })
    return this.value
  }
}

class Memo {
  get expensive() {
    const result = [1, 2, 3].map((n) => n * n)
    Object.defineProperty(this, "expensive", { value: result })
    return result
  }
}

let log = () => {}

exports.main = function main(logger) {
  log = logger
  log(lazy.value, lazy.value, Object.getOwnPropertyDescriptor(lazy, "value").writable)
  const memo = new Memo()
  log(memo.expensive === memo.expensive, memo.expensive)
}
