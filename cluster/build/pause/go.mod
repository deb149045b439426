// The test node's sandbox ("pause") image program: our own, since registry.k8s.io/pause cannot be pulled here.
module outrigger.invalid/pause

go 1.24.0
