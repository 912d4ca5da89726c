"""Commentary: what the team says about a measure in one of its periods (the analysis of a
red month, the actions agreed), shown beside the measure's score and history."""
