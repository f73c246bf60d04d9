package scim

// MaxResults is the most resources one list response holds (the
// ServiceProviderConfig's filter.maxResults); a larger count is cut to it.
const MaxResults = 500

// ServiceProviderConfig describes what the endpoint supports (RFC 7643
// section 5): PATCH and filtering yes; bulk, sorting, password changes
// and ETags no; authentication by bearer token.
func ServiceProviderConfig(baseURL string) map[string]any {
	no := map[string]any{"supported": false}
	return map[string]any{
		"schemas":          []string{SPConfigSchema},
		"documentationUri": "https://github.com/lanyard-cms/lanyard/blob/main/docs/directory.md#scim-provisioning",
		"patch":            map[string]any{"supported": true},
		"bulk":             map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":           map[string]any{"supported": true, "maxResults": MaxResults},
		"changePassword":   no,
		"sort":             no,
		"etag":             no,
		"authenticationSchemes": []map[string]any{{
			"type": "oauthbearertoken", "name": "Bearer token",
			"description": "A SCIM token an administrator created in Lanyard (lanyard scim token create), sent as Authorization: Bearer.",
			"primary":     true,
		}},
		"meta": map[string]any{"resourceType": "ServiceProviderConfig", "location": baseURL + "/ServiceProviderConfig"},
	}
}

// ResourceTypeJSON describes rt (RFC 7643 section 6).
func ResourceTypeJSON(rt *ResourceType, baseURL string) map[string]any {
	ext := []map[string]any{}
	for _, s := range rt.Extensions {
		ext = append(ext, map[string]any{"schema": s.ID, "required": false})
	}
	return map[string]any{
		"schemas": []string{ResourceTypeSchema}, "id": rt.Name, "name": rt.Name, "endpoint": rt.Endpoint,
		"schema": rt.Core.ID, "schemaExtensions": ext,
		"meta": map[string]any{"resourceType": "ResourceType", "location": baseURL + "/ResourceTypes/" + rt.Name},
	}
}

// SchemaJSON describes s (RFC 7643 section 7).
func SchemaJSON(s *Schema, baseURL string) map[string]any {
	return map[string]any{
		"schemas": []string{SchemaSchema}, "id": s.ID, "name": s.Name, "description": s.Description, "attributes": s.Attributes,
		"meta": map[string]any{"resourceType": "Schema", "location": baseURL + "/Schemas/" + s.ID},
	}
}

// AllSchemas lists the schemas Lanyard serves.
func AllSchemas() []*Schema { return []*Schema{&UserResource, &EnterpriseUserResource, &GroupResource} }
