package bench

// What report_test.go (package bench_test: the view imports this package, so the tests of the
// reports' rendering are outside) needs of the package's tests.
var (
	Fleet            = fleet
	FixedTime        = fixedTime
	UpdateGolden     = update
	ChromiumDOM      = chromiumDOM
	RenderedVerdicts = renderedVerdicts
	BigFleet         = bigFleet
	FleetHistory     = fleetHistory
	ChromiumLayout   = chromiumLayout
	ChromiumShot     = chromiumScreenshot
)
