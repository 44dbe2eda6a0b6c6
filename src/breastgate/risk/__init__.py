"""Risk models from questionnaire answers: NCI BCRAT (Gail model) and the Tyrer-Cuzick (IBIS) inputs."""
