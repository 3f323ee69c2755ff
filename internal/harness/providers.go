package harness

// The target kinds, in the order auto tries them (dsn is never chosen by auto).
func init() {
	RegisterProvider(&DockerProvider{})
	RegisterProvider(&LocalProvider{})
	RegisterProvider(DSNProvider{})
}
