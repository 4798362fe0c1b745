package readiness

import (
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// ParseGroupResource parses GROUP/RESOURCE, as a flag names the resource of
// readiness objects of a kind that is not granted by default, e.g.
// argoproj.io/rollouts; "core" names the core group.
func ParseGroupResource(gr string) (group, resource string, err error) {
	group, resource, ok := strings.Cut(gr, "/")
	if !ok || resource == "" || strings.Contains(resource, "/") {
		return "", "", fmt.Errorf("readiness resource %q: must be group/resource, e.g. argoproj.io/rollouts (core/resource for the core group)", gr)
	}
	if group == "core" {
		group = ""
	}
	return group, resource, nil
}

// Rules grants verbs on the GROUP/RESOURCE pairs of resources: a rule per
// group, in order of group, its resources sorted. The pairs must parse
// (ParseGroupResource); those that do not are left out.
func Rules(resources, verbs []string) []rbacv1.PolicyRule {
	byGroup := map[string][]string{}
	for _, gr := range resources {
		if g, r, err := ParseGroupResource(gr); err == nil {
			byGroup[g] = append(byGroup[g], r)
		}
	}
	groups := make([]string, 0, len(byGroup))
	for g := range byGroup {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	rules := make([]rbacv1.PolicyRule, 0, len(groups))
	for _, g := range groups {
		res := byGroup[g]
		slices.Sort(res)
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{g}, Resources: slices.Compact(res), Verbs: verbs})
	}
	return rules
}
