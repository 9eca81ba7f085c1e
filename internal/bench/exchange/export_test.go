package exchange

// Names the external tests (package exchange_test, which runs the command
// line) read the report through.

type ExchangeReport = exchangeReport
