package script

// Substitute is substitute, for the tests.
var Substitute = substitute
